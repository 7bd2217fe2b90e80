/**
 * Search over the memory store: a lexical list (FTS5 BM25, within a postings budget), a list by
 * meaning (sketch prefilter, then exact cosine), and their reciprocal-rank fusion.
 */
import type { Statements } from "./schema.ts";
import type { SketchIndexes } from "./sketch-index.ts";
import type { SearchQuery } from "./store.ts";
import { dot, fromBlob, normalize, sketch } from "./vectors.ts";

/** Exact vector scores computed per search after the sketch prefilter. */
const VECTOR_CANDIDATES = 128;
/** Reciprocal-rank fusion constant (Cormack et al. 2009). */
const RRF_K = 60;
/** Words of a query given to FTS5; the rest are ignored. */
const MAX_QUERY_TERMS = 32;
/**
 * Postings (term × entry) one lexical search may score. FTS5 scores every match before it sorts, so
 * a word found in half the store costs ~1.5 µs × its matches; such words weigh almost nothing in
 * BM25 (idf near 0) and the vector side covers them, so the most common terms are left out once the
 * rarer ones fill this budget (Lucene's "common terms" idea).
 */
const LEXICAL_POSTINGS_BUDGET = 4_000;

/** An entry's fused score and its 1-based ranks in each list, when it was in it. */
export interface Fused {
  score: number;
  lexicalRank?: number;
  vectorRank?: number;
}

/** Ids of the user's entries matching the query's words, best BM25 first. */
export function lexicalRanks(st: Statements, q: SearchQuery): number[] {
  const match = lexicalMatch(st, q.text, q.vector !== undefined);
  if (!match) return [];
  const rows = (q.conversation === undefined ? st.lexical.all(match, q.user) : st.lexicalConv.all(match, q.user, q.conversation)) as {
    id: number;
  }[];
  return rows.map((r) => r.id);
}

/** The query's terms for FTS5: rarest first, within the postings budget (see LEXICAL_POSTINGS_BUDGET). */
function lexicalMatch(st: Statements, text: string, haveVectors: boolean): string {
  const terms = queryTerms(text)
    .map((t) => ({ t, n: Number((st.docs.get(t) as { doc: number } | undefined)?.doc ?? 0) }))
    .filter((x) => x.n > 0)
    .sort((x, y) => x.n - y.n);
  const kept: string[] = [];
  let postings = 0;
  for (const { t, n } of terms) {
    // Without vectors the rarest term is kept whatever it costs: it is the only way to find anything.
    if (postings + n > LEXICAL_POSTINGS_BUDGET && (kept.length > 0 || haveVectors)) break;
    kept.push(t);
    postings += n;
  }
  return kept.map((t) => `"${t}"`).join(" OR ");
}

/** Ids of the user's entries nearest the query's vector (positive cosine only), nearest first. */
export function vectorRanks(st: Statements, indexes: SketchIndexes, q: SearchQuery): number[] {
  if (!q.vector) return [];
  const unit = normalize(q.vector);
  const ids = indexes.nearest(q.user, sketch(unit), unit.length, q.conversation, VECTOR_CANDIDATES);
  if (!ids.length) return [];
  const rows = st.vectors.all(JSON.stringify(ids)) as { id: number; vector: Uint8Array | null }[];
  const exact = rows.map((r) => {
    const v = r.vector ? fromBlob(r.vector) : undefined;
    return { id: r.id, s: v && v.length === unit.length ? dot(unit, v) : -1 };
  });
  return exact
    .filter((e) => e.s > 0)
    .sort((x, y) => y.s - x.s)
    .map((e) => e.id);
}

/** Reciprocal-rank fusion of the two lists: the best `limit` ids with their scores. */
export function fuse(lexical: readonly number[], vector: readonly number[], limit: number): [number, Fused][] {
  const fused = new Map<number, Fused>();
  lexical.forEach((id, i) => fused.set(id, { score: 1 / (RRF_K + i + 1), lexicalRank: i + 1 }));
  vector.forEach((id, i) => {
    const f = fused.get(id) ?? { score: 0 };
    f.score += 1 / (RRF_K + i + 1);
    f.vectorRank = i + 1;
    fused.set(id, f);
  });
  return [...fused].sort((a, b) => b[1].score - a[1].score).slice(0, limit);
}

/** The query's words, lowercased and unique; each is quoted for FTS5, so no query text is FTS5 syntax. */
export function queryTerms(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words)].slice(0, MAX_QUERY_TERMS);
}
