/** Results shaped for a small model: numbered, one title and link per item, short summaries. */
import type { AtomEntry } from "./atom.ts";
import { clip } from "./text.ts";
import type { SearchHit, WikiPage } from "./wikipedia.ts";

/** An arXiv abstract is cut here: enough to judge relevance; the link gives the rest. */
const ABSTRACT_CHARS = 600;

export function formatWikiSearch(query: string, hits: SearchHit[]): string {
  const lines = hits.map((h, i) => `${i + 1}. ${h.title} — ${h.url}${h.snippet ? `\n   ${h.snippet}` : ""}`);
  return `Wikipedia articles for "${query}" (use wikipedia_page with a title to read one):\n${lines.join("\n")}`;
}

export function formatWikiPage(p: WikiPage): string {
  return `# ${p.title}\n${p.url}${p.redirectedFrom ? `\n(redirected from '${p.redirectedFrom}')` : ""}\n\n${p.text}`;
}

export function formatArxiv(query: string, entries: AtomEntry[]): string {
  const lines = entries.map((e, i) => {
    const authors = e.authors.length > 4 ? `${e.authors.slice(0, 3).join(", ")} et al.` : e.authors.join(", ");
    const meta = [e.published?.slice(0, 10), authors, e.category].filter(Boolean).join("; ");
    const links = [e.absUrl ?? e.id, e.pdfUrl && `PDF ${e.pdfUrl}`].filter(Boolean).join(" — ");
    return `${i + 1}. ${e.title}${meta ? ` (${meta})` : ""}\n   ${links}\n   ${clip(e.summary, ABSTRACT_CHARS)}`;
  });
  return `arXiv papers for "${query}":\n${lines.join("\n")}`;
}

export function formatWolfram(input: string, text: string): string {
  return `Wolfram|Alpha on "${input}":\n${text}`;
}
