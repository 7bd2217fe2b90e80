/**
 * A MediaWiki Action API double (`/w/api.php`), from the API's documentation: `action=query` with
 * `list=search` (HTML snippets with `<span class="searchmatch">`) and `prop=extracts|info`
 * (TextExtracts plain text, `fullurl`), `format=json&formatversion=2` (booleans, `pages` as an
 * array), errors as `{"error": {"code", "info", "docref"}}` with status 200, and `maxlag`
 * answered with the `maxlag` error, `Retry-After` and `X-Database-Lag`.
 */
import { json, startServiceDouble, type Reply, type ServiceDouble } from "./service.ts";

export interface WikiArticle {
  title: string;
  /** The lead section. */
  intro: string;
  /** The rest of the article. */
  body?: string;
  /** Titles that redirect here. */
  redirects?: string[];
}

export interface MediaWikiDouble extends ServiceDouble {
  /** The next request is answered as if replication lagged this many seconds beyond its maxlag; Retry-After default 5 (MediaWiki's). */
  lagNext(seconds: number, retryAfterS?: number): void;
}

const DOCREF = "See https://en.wikipedia.org/w/api.php for API usage.";

export async function startMediaWikiDouble(articles: WikiArticle[]): Promise<MediaWikiDouble> {
  let lag: number | undefined;
  let retryAfter = 5;
  const d = await startServiceDouble((url) => {
    if (url.pathname !== "/w/api.php") return json(404, { error: { code: "notfound", info: "Not Found" } });
    const q = url.searchParams;
    const maxlag = Number(q.get("maxlag") ?? NaN);
    if (lag !== undefined && Number.isFinite(maxlag)) {
      const l = lag;
      lag = undefined;
      return json(
        200,
        {
          error: {
            code: "maxlag",
            info: `Waiting for 10.0.0.1: ${l} seconds lagged.`,
            host: "10.0.0.1",
            lag: l,
            type: "db",
            docref: DOCREF,
          },
        },
        { "retry-after": String(retryAfter), "x-database-lag": String(Math.floor(l)) },
      );
    }
    if (q.get("action") !== "query")
      return json(200, {
        error: { code: "badvalue", info: `Unrecognized value for parameter "action": ${q.get("action")}.`, docref: DOCREF },
      });
    if (q.get("format") !== "json" || q.get("formatversion") !== "2")
      return json(200, { error: { code: "badformat", info: "the client must ask for format=json&formatversion=2", docref: DOCREF } });
    if (q.get("list") === "search") return search(articles, q);
    if (q.get("prop")?.split("|").includes("extracts")) return extracts(articles, q, url.origin);
    return json(200, { batchcomplete: true });
  });
  return { ...d, lagNext: (s, r = 5) => void ((lag = s), (retryAfter = r)) };
}

function search(articles: WikiArticle[], q: URLSearchParams): Reply {
  const term = q.get("srsearch");
  if (!term) return json(200, { error: { code: "missingparam", info: 'The "srsearch" parameter must be set.', docref: DOCREF } });
  const limit = Number(q.get("srlimit") ?? 10);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    return json(200, {
      error: { code: "badinteger", info: `Invalid value "${q.get("srlimit")}" for integer parameter "srlimit".`, docref: DOCREF },
    });
  const words = term.toLowerCase().split(/\s+/).filter(Boolean);
  const hits = articles.filter((a) => words.every((w) => `${a.title} ${a.intro} ${a.body ?? ""}`.toLowerCase().includes(w)));
  const mark = (s: string) =>
    words.reduce(
      (acc, w) => acc.replace(new RegExp(`(${w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")})`, "ig"), '<span class="searchmatch">$1</span>'),
      s.slice(0, 160).replace(/&/g, "&amp;"),
    );
  return json(200, {
    batchcomplete: true,
    query: {
      searchinfo: { totalhits: hits.length },
      search: hits.slice(0, limit).map((a, i) => ({
        ns: 0,
        title: a.title,
        pageid: 1000 + i,
        size: a.intro.length * 2,
        wordcount: a.intro.split(/\s+/).length,
        snippet: mark(a.intro),
        timestamp: "2026-11-30T12:00:00Z",
      })),
    },
  });
}

function extracts(articles: WikiArticle[], q: URLSearchParams, origin: string): Reply {
  const title = q.get("titles") ?? "";
  if (!title) return json(200, { batchcomplete: true });
  if (/[|#<>[\]{}]/.test(title))
    return json(200, {
      batchcomplete: true,
      query: { pages: [{ title, invalidreason: "The requested page title contains invalid characters.", invalid: true }] },
    });
  const normalized = title[0]!.toUpperCase() + title.slice(1).replace(/_/g, " ");
  const viaRedirect = q.get("redirects") ? articles.find((a) => a.redirects?.includes(normalized)) : undefined;
  const a = viaRedirect ?? articles.find((x) => x.title === normalized);
  const query: Record<string, unknown> = {};
  if (normalized !== title) query.normalized = [{ fromencoded: false, from: title, to: normalized }];
  if (viaRedirect) query.redirects = [{ from: normalized, to: viaRedirect.title }];
  if (!a) return json(200, { batchcomplete: true, query: { ...query, pages: [{ ns: 0, title: normalized, missing: true }] } });
  const extract = q.get("exintro") ? a.intro : `${a.intro}\n\n\n${a.body ?? ""}`;
  const fullurl = `${origin}/wiki/${encodeURIComponent(a.title.replace(/ /g, "_"))}`;
  return json(200, {
    batchcomplete: true,
    query: {
      ...query,
      pages: [{ pageid: 1, ns: 0, title: a.title, extract, contentmodel: "wikitext", pagelanguage: "en", fullurl, canonicalurl: fullurl }],
    },
  });
}
