/**
 * An arXiv API double (`/api/query`), from the API user manual: an Atom 1.0 feed with the
 * OpenSearch totals and arXiv's extension elements; `search_query` with field prefixes (`all:`,
 * `ti:`, `au:`, `cat:`) joined by AND; errors as a feed holding one entry titled "Error" (id under
 * `/api/errors`); throttling answered as the plain-text body "Rate exceeded." (`rateExceededNext`).
 */
import { startServiceDouble, text, type Reply, type ServiceDouble } from "./service.ts";

export interface ArxivPaper {
  id: string;
  title: string;
  summary: string;
  authors: string[];
  published: string;
  category: string;
}

export interface ArxivDouble extends ServiceDouble {
  /** The next request gets 503 with "Rate exceeded." (what arXiv sends a client that goes too fast). */
  rateExceededNext(): void;
}

const ATOM = "application/atom+xml; charset=utf-8";

export async function startArxivDouble(papers: ArxivPaper[]): Promise<ArxivDouble> {
  const d = await startServiceDouble((url) => (url.pathname === "/api/query" ? query(papers, url) : text(404, "Not Found")));
  return { ...d, rateExceededNext: () => d.failNext({ status: 503, body: "Rate exceeded.", retryAfter: "1" }) };
}

function query(papers: ArxivPaper[], url: URL): Reply {
  const q = url.searchParams;
  const start = Number(q.get("start") ?? 0);
  const max = Number(q.get("max_results") ?? 10);
  if (!Number.isInteger(start) || start < 0) return errorFeed(url, "start_must_be_an_integer", "start must be an integer");
  if (!Number.isInteger(max) || max < 0) return errorFeed(url, "max_results_must_be_an_integer", "max_results must be an integer");
  if (max > 30_000) return errorFeed(url, "max_results_too_large", "max_results must be less than 30000");
  const terms = (q.get("search_query") ?? "").split(/\s+AND\s+/).filter(Boolean);
  for (const t of terms) if (!/^(all|ti|au|abs|cat):\S+$/.test(t)) return errorFeed(url, "malformed_query", `malformed query term '${t}'`);
  const match = (p: ArxivPaper, t: string) => {
    const [field, word] = t.split(":") as [string, string];
    const w = word.toLowerCase();
    const hay =
      { all: `${p.title} ${p.summary} ${p.authors.join(" ")}`, ti: p.title, au: p.authors.join(" "), abs: p.summary, cat: p.category }[
        field
      ] ?? "";
    return hay.toLowerCase().includes(w);
  };
  let hits = terms.length ? papers.filter((p) => terms.every((t) => match(p, t))) : [];
  if (q.get("sortBy") === "submittedDate") hits = [...hits].sort((a, b) => (a.published < b.published ? 1 : -1));
  const page = hits.slice(start, start + max);
  return text(200, feed(url, hits.length, start, page.length, page.map(entry).join("")), ATOM);
}

function feed(url: URL, total: number, start: number, perPage: number, entries: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="${esc(url.href)}" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: ${esc(url.search)}</title>
  <id>http://arxiv.org/api/double</id>
  <updated>2026-12-01T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">${total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">${start}</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">${perPage}</opensearch:itemsPerPage>${entries}
</feed>
`;
}

function entry(p: ArxivPaper): string {
  const authors = p.authors.map((a) => `    <author>\n      <name>${esc(a)}</name>\n    </author>\n`).join("");
  return `
  <entry>
    <id>http://arxiv.org/abs/${p.id}</id>
    <updated>${p.published}</updated>
    <published>${p.published}</published>
    <title>${esc(p.title)}</title>
    <summary>  ${esc(p.summary)}
</summary>
${authors}    <link href="http://arxiv.org/abs/${p.id}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/${p.id}" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="${p.category}" scheme="http://arxiv.org/schemas/atom"/>
    <category term="${p.category}" scheme="http://arxiv.org/schemas/atom"/>
  </entry>`;
}

/** arXiv's documented error answer: a feed with one entry titled "Error" (status 400 today). */
function errorFeed(url: URL, id: string, message: string): Reply {
  const e = `
  <entry>
    <id>http://arxiv.org/api/errors#${id}</id>
    <title>Error</title>
    <summary>${esc(message)}</summary>
    <updated>2026-12-01T00:00:00-05:00</updated>
    <link href="http://arxiv.org/api/errors#${id}" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>`;
  return text(400, feed(url, 1, 0, 1, e), ATOM);
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
