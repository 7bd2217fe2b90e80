/**
 * Reads the few fields of arXiv's Atom feed a model needs, by careful hand parsing: the feed's
 * shape is fixed and documented (entry → id, title, summary, published, author/name, link,
 * arxiv:primary_category), and a general XML library would add a dependency for five tags.
 * Anything that is not a complete <feed> is reported malformed rather than half-read.
 */
import { collapse, decodeEntities } from "./text.ts";

export interface AtomEntry {
  id: string;
  title: string;
  summary: string;
  published?: string;
  authors: string[];
  /** rel="alternate": the abstract page. */
  absUrl?: string;
  /** title="pdf". */
  pdfUrl?: string;
  category?: string;
}

export interface AtomFeed {
  totalResults?: number;
  entries: AtomEntry[];
}

/** Undefined when the text is not a whole Atom feed. */
export function parseAtom(xml: string): AtomFeed | undefined {
  const start = xml.search(/<feed[\s>]/);
  const end = xml.lastIndexOf("</feed>");
  if (start < 0 || end < start) return undefined;
  const feed = xml.slice(start, end);
  const total = /<opensearch:totalResults[^>]*>\s*(\d+)\s*<\/opensearch:totalResults>/.exec(feed)?.[1];
  const entries: AtomEntry[] = [];
  for (const m of feed.matchAll(/<entry[\s>]([\s\S]*?)<\/entry>/g)) {
    const e = m[1]!;
    const links = [...e.matchAll(/<link\b([^>]*?)\/?>/g)].map((l) => attrs(l[1]!));
    entries.push({
      id: text(e, "id"),
      title: text(e, "title"),
      summary: text(e, "summary"),
      published: text(e, "published") || undefined,
      authors: [...e.matchAll(/<author[\s>][\s\S]*?<name>([\s\S]*?)<\/name>[\s\S]*?<\/author>/g)].map((a) => clean(a[1]!)),
      absUrl: links.find((l) => l.rel === "alternate")?.href,
      pdfUrl: links.find((l) => l.title === "pdf")?.href,
      category: attrs(/<arxiv:primary_category\b([^>]*?)\/?>/.exec(e)?.[1] ?? "").term,
    });
  }
  // An opening <entry> without its close means the body was cut: not a feed to trust.
  if ((feed.match(/<entry[\s>]/g)?.length ?? 0) !== entries.length) return undefined;
  return { totalResults: total === undefined ? undefined : Number(total), entries };
}

function text(xml: string, tag: string): string {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? clean(m[1]!) : "";
}

function clean(s: string): string {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*$/.exec(s);
  return collapse(cdata ? cdata[1]! : decodeEntities(s));
}

function attrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([\w:-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) out[m[1]!] = decodeEntities(m[3] ?? m[4] ?? "");
  return out;
}
