/**
 * Shared by the GET-only API doubles (MediaWiki, arXiv, Wolfram|Alpha): request log with arrival
 * times, scripted failures (any status, body, Retry-After) and stalls for timeout tests.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Closable } from "../../mesh/lifecycle.ts";
import { sleep, startDoubleServer, type DoubleServer, lifeOf } from "./http.ts";

export interface Reply {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

/** What a scripted failure sends instead of the real answer. */
export interface ScriptedReply {
  status: number;
  body?: string;
  contentType?: string;
  /** Sent as Retry-After (seconds or an HTTP date). */
  retryAfter?: string;
}

export interface ServiceRequest {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  /** performance.now() at arrival. */
  at: number;
}

export interface ServiceDouble extends Closable {
  readonly url: string;
  readonly requests: ServiceRequest[];
  /** The next request gets this instead of its answer. */
  failNext(reply: ScriptedReply): void;
  /** The next request waits this long before answering (or until the client goes away). */
  stallNext(ms: number): void;
}

export const text = (status: number, body: string, contentType = "text/plain; charset=utf-8", headers?: Record<string, string>): Reply => ({
  status,
  body,
  contentType,
  headers,
});
export const json = (status: number, body: unknown, headers?: Record<string, string>): Reply =>
  text(status, JSON.stringify(body), "application/json; charset=utf-8", headers);

export async function startServiceDouble(route: (url: URL) => Reply): Promise<ServiceDouble> {
  const requests: ServiceRequest[] = [];
  const failures: ScriptedReply[] = [];
  const stalls: number[] = [];
  const send = (res: ServerResponse, r: Reply) => {
    res.writeHead(r.status, { "content-type": r.contentType, "content-length": Buffer.byteLength(r.body), ...r.headers });
    res.end(r.body);
  };
  const server: DoubleServer = await startDoubleServer(async (req, res, gone) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers, at: performance.now() });
    const stall = stalls.shift();
    if (stall) await sleep(stall, gone);
    if (gone.aborted) return;
    const f = failures.shift();
    if (f) return send(res, text(f.status, f.body ?? "", f.contentType, f.retryAfter ? { "retry-after": f.retryAfter } : undefined));
    if (req.method !== "GET") return send(res, text(405, "Method Not Allowed"));
    send(res, route(url));
  });
  return {
    url: server.url,
    requests,
    failNext: (r) => void failures.push(r),
    stallNext: (ms) => void stalls.push(ms),
    ...lifeOf(server),
  };
}
