/** Small HTTP plumbing shared by the service doubles: a restartable server on a fixed random port. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { lifecycle, type Closable } from "../../mesh/lifecycle.ts";

export type Handler = (req: IncomingMessage, res: ServerResponse, gone: AbortSignal) => Promise<void>;

/** What every double records about a request. */
export interface LoggedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
  /** The client went away before the response ended. */
  aborted: boolean;
}

export interface DoubleServer extends Closable {
  /** Base URL, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly port: number;
  /** Simulates a crash: closes the listener and every open connection. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Final stop (mesh/lifecycle.ts: a second call, or a dispose, waits for the first). */
  close(): Promise<void>;
}

/** The lifecycle of a double built on `c`: its close(), closed() and dispose, to spread into what the double returns. */
export const lifeOf = (c: Closable): Closable => ({
  close: () => c.close(),
  closed: () => c.closed(),
  [Symbol.asyncDispose]: () => c[Symbol.asyncDispose](),
});

export async function startDoubleServer(handler: Handler, port = 0): Promise<DoubleServer> {
  let server: Server | undefined;
  const listen = async (p: number): Promise<number> => {
    const s = createServer((req, res) => {
      const ac = new AbortController();
      res.on("close", () => ac.abort());
      handler(req, res, ac.signal).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: `double failed: ${String(err)}` });
        else res.destroy();
      });
    });
    server = s;
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(p, "127.0.0.1", () => resolve());
    });
    return (s.address() as AddressInfo).port;
  };
  const down = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  const actual = await listen(port);
  const { close, closed, [Symbol.asyncDispose]: dispose } = lifecycle({ close: down });
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    down,
    up: async () => {
      if (!server) await listen(actual);
    },
    close,
    closed,
    [Symbol.asyncDispose]: dispose,
  };
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { _unparsable: text };
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Splits text into word tokens that concatenate back to it ("a b" → ["a ", "b"]). */
export function tokens(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}

/** A stand-in JSON document for a JSON schema: first enum value, "x", 0, false, nested objects. */
export function sampleForSchema(schema: unknown): unknown {
  const s = (schema ?? {}) as {
    type?: unknown;
    enum?: unknown[];
    const?: unknown;
    properties?: Record<string, unknown>;
    items?: unknown;
    minimum?: number;
  };
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const type: unknown = Array.isArray(s.type) ? (s.type as unknown[])[0] : s.type;
  if (type === "object" || s.properties) {
    return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, sampleForSchema(v)]));
  }
  if (type === "array") return [];
  if (type === "number" || type === "integer") return s.minimum ?? 0;
  if (type === "boolean") return false;
  if (type === "null") return null;
  return "x";
}
