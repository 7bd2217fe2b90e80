/**
 * The memory store: one SQLite file (Node's built-in `node:sqlite`, WAL, so a commit survives a
 * crash of the process), an FTS5 index for BM25, and per-entry vectors as Float32 BLOBs. Every read
 * and write is scoped by user; a user's vector sketches are loaded into memory on first search.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dot, fromBlob, normalize, popcount, sketch, sketchFromBlob, SKETCH_BITS, SKETCH_WORDS, toBlob } from "./vectors.ts";

/** Exact vector scores computed per search after the sketch prefilter. */
const VECTOR_CANDIDATES = 128;
/** Lexical hits fused per search. */
const LEXICAL_CANDIDATES = 100;
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

export interface MemoryEntry {
  id: number;
  user: string;
  conversation: string;
  text: string;
  significance: number;
  /** Epoch ms. */
  ts: number;
  tags: string[];
}

export interface NewEntry {
  user: string;
  conversation: string;
  text: string;
  significance: number;
  tags?: string[];
  ts?: number;
  /** The text's embedding; absent when no embedding model answered (lexical only). */
  vector?: Float32Array;
}

export interface SearchQuery {
  user: string;
  /** Only this conversation's entries. */
  conversation?: string;
  text: string;
  vector?: Float32Array;
  limit: number;
}

export interface SearchHit extends MemoryEntry {
  score: number;
  /** 1-based ranks in each list, when the entry was in it. */
  lexicalRank?: number;
  vectorRank?: number;
}

export interface MemoryStore {
  add(e: NewEntry): MemoryEntry;
  /** Many entries in one transaction (imports, benchmarks). */
  addMany(es: readonly NewEntry[]): void;
  get(user: string, ids: readonly number[]): MemoryEntry[];
  /** Most significant, then newest first. */
  latest(user: string, limit: number, conversation?: string): MemoryEntry[];
  search(q: SearchQuery): SearchHit[];
  /** False when the user has no entry with this id. */
  forget(user: string, id: number): boolean;
  count(user?: string): number;
  close(): void;
}

type Row = { id: number; user: string; conversation: string; text: string; significance: number; ts: number; tags: string };
const entryOf = (r: Row): MemoryEntry => ({
  id: r.id,
  user: r.user,
  conversation: r.conversation,
  text: r.text,
  significance: r.significance,
  ts: r.ts,
  tags: JSON.parse(r.tags) as string[],
});

/** A user's sketches, in memory; positions of forgotten entries hold id 0. */
interface UserIndex {
  ids: number[];
  conversations: string[];
  /** Each vector's length: one written under another embedding model is never compared. */
  dims: number[];
  sketches: Int32Array;
}

export function openMemoryStore(path: string): MemoryStore {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  // WAL + NORMAL: a committed transaction survives the process being killed (not a power cut's last ms).
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
  db.exec(`
    CREATE TABLE IF NOT EXISTS memories (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user TEXT NOT NULL,
      conversation TEXT NOT NULL,
      text TEXT NOT NULL,
      significance REAL NOT NULL,
      ts INTEGER NOT NULL,
      tags TEXT NOT NULL DEFAULT '[]',
      vector BLOB,
      sketch BLOB
    );
    CREATE INDEX IF NOT EXISTS memories_user ON memories (user, significance DESC, ts DESC);
    CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5 (text, content = 'memories', content_rowid = 'id');
    CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
      INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE VIRTUAL TABLE IF NOT EXISTS memories_vocab USING fts5vocab (memories_fts, 'row');
    CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
      INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
  `);
  const cols = "id, user, conversation, text, significance, ts, tags";
  const st = {
    insert: db.prepare(
      "INSERT INTO memories (user, conversation, text, significance, ts, tags, vector, sketch) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    ),
    get: db.prepare(`SELECT ${cols} FROM memories WHERE user = ? AND id = ?`),
    latest: db.prepare(`SELECT ${cols} FROM memories WHERE user = ? ORDER BY significance DESC, ts DESC LIMIT ?`),
    latestConv: db.prepare(`SELECT ${cols} FROM memories WHERE user = ? AND conversation = ? ORDER BY significance DESC, ts DESC LIMIT ?`),
    lexical: db.prepare(
      `SELECT m.id AS id FROM memories_fts f JOIN memories m ON m.id = f.rowid WHERE memories_fts MATCH ? AND m.user = ? ORDER BY bm25(memories_fts) LIMIT ${LEXICAL_CANDIDATES}`,
    ),
    lexicalConv: db.prepare(
      `SELECT m.id AS id FROM memories_fts f JOIN memories m ON m.id = f.rowid WHERE memories_fts MATCH ? AND m.user = ? AND m.conversation = ? ORDER BY bm25(memories_fts) LIMIT ${LEXICAL_CANDIDATES}`,
    ),
    vectors: db.prepare("SELECT id, vector FROM memories WHERE id IN (SELECT value FROM json_each(?))"),
    docs: db.prepare("SELECT doc FROM memories_vocab WHERE term = ?"),
    sketches: db.prepare(
      "SELECT id, conversation, length(vector) / 4 AS dims, sketch FROM memories WHERE user = ? AND sketch IS NOT NULL ORDER BY id",
    ),
    del: db.prepare("DELETE FROM memories WHERE user = ? AND id = ?"),
    count: db.prepare("SELECT count(*) AS n FROM memories"),
    countUser: db.prepare("SELECT count(*) AS n FROM memories WHERE user = ?"),
  } satisfies Record<string, StatementSync>;

  const indexes = new Map<string, UserIndex>();
  const indexOf = (user: string): UserIndex => {
    let ix = indexes.get(user);
    if (ix) return ix;
    const rows = st.sketches.all(user) as { id: number; conversation: string; dims: number; sketch: Uint8Array }[];
    ix = { ids: [], conversations: [], dims: [], sketches: new Int32Array(Math.max(64, rows.length) * SKETCH_WORDS) };
    for (const r of rows) push(ix, r.id, r.conversation, r.dims, sketchFromBlob(r.sketch));
    indexes.set(user, ix);
    return ix;
  };
  const push = (ix: UserIndex, id: number, conversation: string, dims: number, sk: Int32Array) => {
    const at = ix.ids.length * SKETCH_WORDS;
    if (at + SKETCH_WORDS > ix.sketches.length) {
      const grown = new Int32Array(ix.sketches.length * 2);
      grown.set(ix.sketches);
      ix.sketches = grown;
    }
    ix.sketches.set(sk, at);
    ix.ids.push(id);
    ix.conversations.push(conversation);
    ix.dims.push(dims);
  };

  const insert = (e: NewEntry): MemoryEntry => {
    const ts = e.ts ?? Date.now();
    const tags = JSON.stringify(e.tags ?? []);
    const unit = e.vector ? normalize(e.vector) : undefined;
    const sk = unit ? sketch(unit) : undefined;
    const { id } = st.insert.get(
      e.user,
      e.conversation,
      e.text,
      e.significance,
      ts,
      tags,
      unit ? toBlob(unit) : null,
      sk ? toBlob(sk) : null,
    ) as { id: number };
    // Only a user whose index is loaded is kept in step; others load it all on first search.
    const ix = indexes.get(e.user);
    if (ix && sk && unit) push(ix, id, e.conversation, unit.length, sk);
    return { id, user: e.user, conversation: e.conversation, text: e.text, significance: e.significance, ts, tags: e.tags ?? [] };
  };

  const vectorRanks = (q: SearchQuery): number[] => {
    if (!q.vector) return [];
    const unit = normalize(q.vector);
    const [a, b, c, d] = sketch(unit) as unknown as [number, number, number, number];
    const ix = indexOf(q.user);
    const n = ix.ids.length;
    const sk = ix.sketches;
    // Hamming distance of every sketch (SKETCH_BITS + 1 = out of scope), then the nearest by a histogram: O(n).
    const dist = new Uint8Array(n);
    const hist = new Uint32Array(SKETCH_BITS + 2);
    for (let i = 0; i < n; i++) {
      let h = SKETCH_BITS + 1;
      // Another model's vectors (a changed embedding_model) share no space with this one's: out of scope,
      // or they would fill the candidates and push this model's entries out.
      if (ix.ids[i] !== 0 && ix.dims[i] === unit.length && (q.conversation === undefined || ix.conversations[i] === q.conversation)) {
        const o = i * SKETCH_WORDS;
        h = popcount(a ^ sk[o]!) + popcount(b ^ sk[o + 1]!) + popcount(c ^ sk[o + 2]!) + popcount(d ^ sk[o + 3]!);
      }
      dist[i] = h;
      hist[h]!++;
    }
    let limit = 0;
    for (let seen = 0; limit <= SKETCH_BITS && seen + hist[limit]! < VECTOR_CANDIDATES; limit++) seen += hist[limit]!;
    const ids: number[] = [];
    for (let i = 0; i < n && ids.length < VECTOR_CANDIDATES; i++) if (dist[i]! < limit) ids.push(ix.ids[i]!);
    for (let i = 0; i < n && ids.length < VECTOR_CANDIDATES && limit <= SKETCH_BITS; i++) if (dist[i] === limit) ids.push(ix.ids[i]!);
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
  };

  /** The query's terms for FTS5: rarest first, within the postings budget (see LEXICAL_POSTINGS_BUDGET). */
  const lexicalMatch = (text: string, haveVectors: boolean): string => {
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
  };

  return {
    add: insert,
    addMany(es) {
      db.exec("BEGIN");
      try {
        for (const e of es) insert(e);
        db.exec("COMMIT");
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    },
    get: (user, ids) =>
      ids
        .map((id) => st.get.get(user, id) as Row | undefined)
        .filter((r) => r !== undefined)
        .map(entryOf),
    latest: (user, limit, conversation) =>
      ((conversation === undefined ? st.latest.all(user, limit) : st.latestConv.all(user, conversation, limit)) as Row[]).map(entryOf),
    search(q) {
      const match = lexicalMatch(q.text, q.vector !== undefined);
      const lexical = match
        ? (
            (q.conversation === undefined ? st.lexical.all(match, q.user) : st.lexicalConv.all(match, q.user, q.conversation)) as {
              id: number;
            }[]
          ).map((r) => r.id)
        : [];
      const vector = vectorRanks(q);
      const fused = new Map<number, { score: number; lexicalRank?: number; vectorRank?: number }>();
      lexical.forEach((id, i) => fused.set(id, { score: 1 / (RRF_K + i + 1), lexicalRank: i + 1 }));
      vector.forEach((id, i) => {
        const f = fused.get(id) ?? { score: 0 };
        f.score += 1 / (RRF_K + i + 1);
        f.vectorRank = i + 1;
        fused.set(id, f);
      });
      const top = [...fused].sort((a, b) => b[1].score - a[1].score).slice(0, q.limit);
      return top.flatMap(([id, f]) => {
        const row = st.get.get(q.user, id) as Row | undefined;
        return row ? [{ ...entryOf(row), ...f }] : [];
      });
    },
    forget(user, id) {
      const gone = Number(st.del.run(user, id).changes) > 0;
      const ix = indexes.get(user);
      if (gone && ix) {
        const i = ix.ids.indexOf(id);
        if (i >= 0) ix.ids[i] = 0;
      }
      return gone;
    },
    count: (user) => Number(((user === undefined ? st.count.get() : st.countUser.get(user)) as { n: number }).n),
    close: () => {
      indexes.clear();
      if (db.isOpen) db.close();
    },
  };
}

/** The query's words, lowercased and unique; each is quoted for FTS5, so no query text is FTS5 syntax. */
export function queryTerms(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words)].slice(0, MAX_QUERY_TERMS);
}
