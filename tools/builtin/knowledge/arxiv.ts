/**
 * arXiv through its query API (`/api/query?search_query=…&start=0&max_results=…`), an Atom feed.
 * arXiv reports a bad query as a feed with one entry titled "Error" (id under /api/errors), and
 * throttling as the plain-text body "Rate exceeded." (often with 503); both are told apart here.
 */
import { parseAtom, type AtomEntry } from "./atom.ts";
import { KnowledgeError, KnowledgeErrorCode } from "./errors.ts";
import { httpGet, retryAfterS, statusError, type HttpContext } from "./http.ts";

const SERVICE = "arXiv";
/** Field prefixes of arXiv's query syntax; a query using one is passed as written. */
const FIELD = /\b(ti|au|abs|co|jr|cat|rn|id|all):/;

export const ArxivSort = { Relevance: "relevance", Newest: "newest" } as const;
export type ArxivSort = (typeof ArxivSort)[keyof typeof ArxivSort];

export async function arxivSearch(
  http: HttpContext,
  apiUrl: string,
  query: string,
  maxResults: number,
  sort: ArxivSort,
  signal?: AbortSignal,
): Promise<AtomEntry[]> {
  const url = new URL(apiUrl);
  url.searchParams.set("search_query", FIELD.test(query) ? query : allFields(query));
  url.searchParams.set("start", "0");
  url.searchParams.set("max_results", String(maxResults));
  url.searchParams.set("sortBy", sort === ArxivSort.Newest ? "submittedDate" : "relevance");
  url.searchParams.set("sortOrder", "descending");
  const a = await httpGet(http, url, signal);
  if (/^\s*Rate exceeded\.?\s*$/i.test(a.text)) {
    const wait = retryAfterS(a) ?? 3;
    http.limiter.holdOff(wait * 1000);
    throw new KnowledgeError(KnowledgeErrorCode.RateLimited, `arXiv is rate limiting requests ("Rate exceeded."); retry after ${wait} s`, {
      retryAfterS: wait,
    });
  }
  const feed = parseAtom(a.text);
  const error = feed?.entries.find((e) => e.id.includes("/api/errors") || e.title === "Error");
  if (error)
    throw new KnowledgeError(
      KnowledgeErrorCode.Rejected,
      `arXiv refused the query: ${error.summary || "no reason given"}; ` +
        `fix the query syntax (e.g. 'ti:transformer AND cat:cs.CL') or use plain words`,
    );
  const bad = statusError(SERVICE, a);
  if (bad) throw bad;
  if (!feed)
    throw new KnowledgeError(KnowledgeErrorCode.Malformed, "arXiv's answer was malformed (not a complete Atom feed); try again later");
  if (feed.entries.length === 0)
    throw new KnowledgeError(KnowledgeErrorCode.NoResults, `arXiv has no papers matching '${query}'; try fewer or broader words`);
  return feed.entries;
}

/** Plain words → `all:word AND all:word`, arXiv's way of asking for every word anywhere. */
function allFields(query: string): string {
  const words = query.replace(/["()]/g, " ").split(/\s+/).filter(Boolean);
  return words.map((w) => `all:${w}`).join(" AND ");
}
