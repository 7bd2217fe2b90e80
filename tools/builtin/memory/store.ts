/**
 * The memory store: one SQLite file (Node's built-in `node:sqlite`, WAL, so a commit survives a
 * crash of the process), an FTS5 index for BM25, and per-entry vectors as Float32 BLOBs. Every read
 * and write is scoped by user; a user's vector sketches are loaded into memory on first search.
 */
import type { DatabaseSync } from "node:sqlite";
import { openDatabase, prepareStatements, type Statements } from "./schema.ts";
import { fuse, lexicalRanks, vectorRanks } from "./search.ts";
import { createSketchIndexes, type SketchIndexes } from "./sketch-index.ts";
import { normalize, sketch, toBlob } from "./vectors.ts";

export { queryTerms } from "./search.ts";

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

export function openMemoryStore(path: string): MemoryStore {
  const db = openDatabase(path);
  const st = prepareStatements(db);
  const indexes = createSketchIndexes(st.sketches);
  const add = (e: NewEntry) => insert(st, indexes, e);
  return {
    add,
    addMany: (es) => inTransaction(db, () => es.forEach(add)),
    get: (user, ids) =>
      ids
        .map((id) => st.get.get(user, id) as Row | undefined)
        .filter((r) => r !== undefined)
        .map(entryOf),
    latest: (user, limit, conversation) =>
      ((conversation === undefined ? st.latest.all(user, limit) : st.latestConv.all(user, conversation, limit)) as Row[]).map(entryOf),
    search(q) {
      const top = fuse(lexicalRanks(st, q), vectorRanks(st, indexes, q), q.limit);
      return top.flatMap(([id, f]) => {
        const row = st.get.get(q.user, id) as Row | undefined;
        return row ? [{ ...entryOf(row), ...f }] : [];
      });
    },
    forget(user, id) {
      const gone = Number(st.del.run(user, id).changes) > 0;
      if (gone) indexes.forgotten(user, id);
      return gone;
    },
    count: (user) => Number(((user === undefined ? st.count.get() : st.countUser.get(user)) as { n: number }).n),
    close: () => {
      indexes.clear();
      if (db.isOpen) db.close();
    },
  };
}

/** The journal's write: one row (with its vector and sketch when embedded), kept in step in the loaded index. */
function insert(st: Statements, indexes: SketchIndexes, e: NewEntry): MemoryEntry {
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
  ) as {
    id: number;
  };
  // Only a user whose index is loaded is kept in step; others load it all on first search.
  if (sk && unit) indexes.added(e.user, id, e.conversation, unit.length, sk);
  return { id, user: e.user, conversation: e.conversation, text: e.text, significance: e.significance, ts, tags: e.tags ?? [] };
}

function inTransaction(db: DatabaseSync, work: () => void): void {
  db.exec("BEGIN");
  try {
    work();
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
