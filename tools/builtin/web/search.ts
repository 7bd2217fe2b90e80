/**
 * web_search through SearXNG's JSON API (docs.searxng.org/dev/search_api): GET /search?q=…&format=json
 * → `{ results: [{ url, title, content, … }] }`. A 403 means the instance does not enable the json
 * format (settings.yml `search.formats`); a 429 is its rate limiter.
 */
import { WebError, WebErrorCode } from "./errors.ts";

export interface SearchHit {
  title: string;
  url: string;
  snippet: string;
}

export interface SearchOptions {
  searxngUrl: string | undefined;
  maxResults: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export async function searxngSearch(query: string, page: number, o: SearchOptions): Promise<SearchHit[]> {
  if (!o.searxngUrl)
    throw new WebError(
      WebErrorCode.Unavailable,
      "web_search is not configured: set tools.servers.web.options.searxng_url to a SearXNG instance with the json format enabled",
    );
  const url = new URL("search", o.searxngUrl.endsWith("/") ? o.searxngUrl : `${o.searxngUrl}/`);
  url.search = new URLSearchParams({ q: query, format: "json", pageno: String(page) }).toString();
  const timeout = AbortSignal.timeout(o.timeoutMs);
  let res: Response;
  try {
    // The SearXNG URL comes from the operator's config, not the model: no SSRF guard here.
    res = await fetch(url, { headers: { accept: "application/json" }, signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout });
  } catch (err) {
    if (timeout.aborted)
      throw new WebError(WebErrorCode.Timeout, `SearXNG did not answer within ${o.timeoutMs} ms; try again later`, { cause: err });
    throw new WebError(WebErrorCode.Upstream, `SearXNG at ${o.searxngUrl} is unreachable (${(err as Error).message}); try again later`, {
      cause: err,
    });
  }
  if (res.status === 429)
    throw new WebError(WebErrorCode.Upstream, "SearXNG is rate limiting (HTTP 429 Too Many Requests); wait a while before searching again");
  if (res.status === 403)
    throw new WebError(
      WebErrorCode.Unavailable,
      "SearXNG refused the JSON format (HTTP 403); enable 'json' in its settings.yml search.formats",
    );
  if (!res.ok) throw new WebError(WebErrorCode.Upstream, `SearXNG answered HTTP ${res.status}; try again later`);
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES)
    throw new WebError(WebErrorCode.TooLarge, `SearXNG's answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
  let body: { results?: unknown };
  try {
    body = JSON.parse(text) as { results?: unknown };
  } catch {
    throw new WebError(WebErrorCode.Upstream, "SearXNG's answer is not JSON; check that searxng_url points at a SearXNG instance");
  }
  if (!Array.isArray(body.results)) throw new WebError(WebErrorCode.Upstream, "SearXNG's answer has no 'results' list");
  const hits: SearchHit[] = [];
  const seen = new Set<string>();
  for (const r of body.results as Record<string, unknown>[]) {
    const link = typeof r?.url === "string" ? r.url : "";
    if (!link || seen.has(link)) continue;
    seen.add(link);
    hits.push({ url: link, title: typeof r.title === "string" ? r.title : link, snippet: typeof r.content === "string" ? r.content : "" });
    if (hits.length >= o.maxResults) break;
  }
  return hits;
}

export function formatHits(query: string, hits: SearchHit[]): string {
  if (!hits.length) return `No results for '${query}'. Try other words.`;
  return hits.map((h, i) => `${i + 1}. ${h.title}\n   ${h.url}${h.snippet ? `\n   ${h.snippet}` : ""}`).join("\n");
}
