/**
 * Wikipedia through the MediaWiki Action API (`/w/api.php`): `list=search` for search, and
 * `prop=extracts` (TextExtracts, plain text) + `prop=info` (the page URL) for a page. JSON with
 * `formatversion=2`; `maxlag` so a lagged wiki tells us to wait instead of being loaded further.
 * Errors arrive as `{"error": {"code", "info"}}`, usually with status 200, so the body is checked
 * whatever the status.
 */
import { KnowledgeError, KnowledgeErrorCode } from "./errors.ts";
import { httpGet, retryAfterS, statusError, type HttpAnswer, type HttpContext } from "./http.ts";
import { clip, collapse, stripTags } from "./text.ts";

const SERVICE = "Wikipedia";
/** Seconds of replication lag above which the wiki answers `maxlag` (its documented suggestion). */
const MAXLAG_S = 5;

export interface SearchHit {
  title: string;
  snippet: string;
  url: string;
  words?: number;
}

export interface WikiPage {
  title: string;
  url: string;
  text: string;
  /** The title asked for, when a redirect led elsewhere. */
  redirectedFrom?: string;
}

export async function wikipediaSearch(
  http: HttpContext,
  apiUrl: string,
  query: string,
  limit: number,
  signal?: AbortSignal,
): Promise<SearchHit[]> {
  const url = apiRequest(apiUrl, { list: "search", srsearch: query, srlimit: String(limit), srprop: "snippet|wordcount" });
  const body = parse(http, await httpGet(http, url, signal));
  const search = (body.query as { search?: unknown } | undefined)?.search;
  if (!Array.isArray(search)) throw malformed("query.search is missing");
  const hits = search.map((h: { title?: unknown; snippet?: unknown; wordcount?: unknown }) => {
    if (typeof h?.title !== "string") throw malformed("a search result has no title");
    return {
      title: h.title,
      snippet: typeof h.snippet === "string" ? stripTags(h.snippet) : "",
      url: articleUrl(apiUrl, h.title),
      words: typeof h.wordcount === "number" ? h.wordcount : undefined,
    };
  });
  if (hits.length === 0)
    throw new KnowledgeError(KnowledgeErrorCode.NoResults, `Wikipedia has no articles matching '${query}'; try fewer or different words`);
  return hits;
}

export async function wikipediaPage(
  http: HttpContext,
  apiUrl: string,
  title: string,
  introOnly: boolean,
  maxChars: number,
  signal?: AbortSignal,
): Promise<WikiPage> {
  const params: Record<string, string> = { prop: "extracts|info", inprop: "url", explaintext: "1", redirects: "1", titles: title };
  if (introOnly) params.exintro = "1";
  const body = parse(http, await httpGet(http, apiRequest(apiUrl, params), signal));
  const q = body.query as { pages?: unknown; redirects?: { from?: string }[] } | undefined;
  const page = Array.isArray(q?.pages) ? (q.pages[0] as Record<string, unknown> | undefined) : undefined;
  if (!page) throw malformed("query.pages is missing");
  if (page.missing === true || page.invalid === true) {
    throw new KnowledgeError(
      KnowledgeErrorCode.NoResults,
      `Wikipedia has no page titled '${title}'; use wikipedia_search to find the exact title`,
    );
  }
  if (typeof page.title !== "string") throw malformed("the page has no title");
  const extract = typeof page.extract === "string" ? page.extract.replace(/\n{3,}/g, "\n\n").trim() : "";
  if (!extract)
    throw new KnowledgeError(
      KnowledgeErrorCode.NoResults,
      `Wikipedia's page '${page.title}' has no text extract (it may be a disambiguation or special page); try wikipedia_search`,
    );
  return {
    title: page.title,
    url: typeof page.fullurl === "string" ? page.fullurl : articleUrl(apiUrl, page.title),
    text: clip(extract, maxChars),
    redirectedFrom: q?.redirects?.[0]?.from,
  };
}

function apiRequest(apiUrl: string, params: Record<string, string>): URL {
  const url = new URL(apiUrl);
  for (const [k, v] of Object.entries({ action: "query", format: "json", formatversion: "2", maxlag: String(MAXLAG_S), ...params }))
    url.searchParams.set(k, v);
  return url;
}

/** Checks the status and the body's own error document; returns the parsed JSON object. */
function parse(http: HttpContext, a: HttpAnswer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    throw statusError(SERVICE, a) ?? malformed("the body is not JSON");
  }
  const error = wikiError(body);
  if (error) {
    const wait = retryAfterS(a);
    if (error.code === "maxlag" || error.code === "ratelimited") {
      // The wiki said how long to wait: no request of this server goes out before then.
      http.limiter.holdOff((wait ?? 5) * 1000);
      throw new KnowledgeError(
        KnowledgeErrorCode.RateLimited,
        `Wikipedia asked to slow down (${error.code}: ${error.info}); retry after ${wait ?? 5} s`,
        { retryAfterS: wait ?? 5 },
      );
    }
    throw (
      statusError(SERVICE, a) ??
      new KnowledgeError(KnowledgeErrorCode.Rejected, `Wikipedia refused the request (${error.code}: ${error.info}); check the arguments`)
    );
  }
  const bad = statusError(SERVICE, a);
  if (bad) throw bad;
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw malformed("the body is not a JSON object");
  return body as Record<string, unknown>;
}

/** `{"error": {...}}` (errorformat=bc, the default) or `{"errors": [...]}` (other errorformats). */
function wikiError(body: unknown): { code: string; info: string } | undefined {
  const b = body as { error?: { code?: unknown; info?: unknown }; errors?: { code?: unknown; text?: unknown; "*"?: unknown }[] } | null;
  const e = b?.error ?? b?.errors?.[0];
  if (!e || typeof e !== "object") return undefined;
  const info = (e as { info?: unknown }).info ?? (e as { text?: unknown }).text ?? (e as { "*"?: unknown })["*"];
  return {
    code: typeof e.code === "string" ? e.code : "unknown",
    info: typeof info === "string" ? collapse(info) : JSON.stringify(info ?? ""),
  };
}

/** `https://en.wikipedia.org/w/api.php` + "Ada Lovelace" → `https://en.wikipedia.org/wiki/Ada_Lovelace`. */
function articleUrl(apiUrl: string, title: string): string {
  const u = new URL(apiUrl);
  return `${u.origin}/wiki/${encodeURIComponent(title.replace(/ /g, "_")).replace(/%2F/g, "/")}`;
}

function malformed(what: string): KnowledgeError {
  return new KnowledgeError(KnowledgeErrorCode.Malformed, `Wikipedia's answer was malformed (${what}); try again later`);
}
