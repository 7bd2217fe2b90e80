/**
 * A SearXNG double, from docs.searxng.org/dev/search_api: GET or POST / and /search with `q`
 * and `format`; `format=json` answers `{ query, number_of_results, results: [{ url, title, content,
 * engine, ... }], answers, corrections, infoboxes, suggestions, unresponsive_engines }`. A format
 * not enabled in settings.yml (`search.formats`) is 403 Forbidden; its limiter answers 429.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Closable } from "../../mesh/lifecycle.ts";
import { sendJson, startDoubleServer, type LoggedRequest, lifeOf } from "./http.ts";

export interface SearxngResult {
  url: string;
  title: string;
  content?: string;
}

export interface SearxngDoubleOptions {
  /** The results for a query; default none. */
  results?: (q: string, pageno: number) => SearxngResult[];
  /** Enabled formats (settings.yml search.formats); default ["html", "json"]. */
  formats?: string[];
}

export interface SearxngDouble extends Closable {
  readonly url: string;
  readonly requests: LoggedRequest[];
  /** The next `n` requests get 429 Too Many Requests (the limiter). */
  rateLimit(n?: number): void;
  /** Turns the json format off or on (403 while off). */
  setJson(enabled: boolean): void;
}

export async function startSearxngDouble(opts: SearxngDoubleOptions = {}): Promise<SearxngDouble> {
  const requests: LoggedRequest[] = [];
  const formats = new Set(opts.formats ?? ["html", "json"]);
  let limited = 0;

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? "/", "http://double");
    let params = u.searchParams;
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      params = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
    }
    requests.push({
      method: req.method ?? "GET",
      path: u.pathname,
      headers: req.headers,
      body: Object.fromEntries(params),
      aborted: false,
    });
    if (u.pathname !== "/" && u.pathname !== "/search") return text(res, 404, "Not Found");
    if (limited > 0) {
      limited--;
      return text(res, 429, "Too Many Requests");
    }
    const format = params.get("format") ?? "html";
    if (!formats.has(format)) return text(res, 403, "Forbidden");
    const q = params.get("q") ?? "";
    if (!q) return text(res, 400, "Bad Request");
    const pageno = Number(params.get("pageno") ?? "1") || 1;
    const results = (opts.results?.(q, pageno) ?? []).map((r, i) => ({
      ...r,
      content: r.content ?? "",
      engine: "duckduckgo",
      engines: ["duckduckgo"],
      parsed_url: urlParts(r.url),
      template: "default.html",
      positions: [i + 1],
      score: 1 / (i + 1),
      category: "general",
    }));
    if (format !== "json") return text(res, 200, `<html><body>${results.length} results</body></html>`, "text/html");
    sendJson(res, 200, {
      query: q,
      number_of_results: 0,
      results,
      answers: [],
      corrections: [],
      infoboxes: [],
      suggestions: [],
      unresponsive_engines: [],
    });
  };

  const server = await startDoubleServer(handler);
  return {
    url: server.url,
    requests,
    rateLimit: (n = 1) => void (limited = n),
    setJson: (enabled) => void (enabled ? formats.add("json") : formats.delete("json")),
    ...lifeOf(server),
  };
}

function text(res: ServerResponse, status: number, body: string, type = "text/plain"): void {
  res.writeHead(status, { "content-type": `${type}; charset=utf-8`, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function urlParts(url: string): string[] {
  try {
    const u = new URL(url);
    return [u.protocol.replace(":", ""), u.host, u.pathname, "", u.search.slice(1), u.hash.slice(1)];
  } catch {
    return [];
  }
}
