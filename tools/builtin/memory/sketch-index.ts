/**
 * The in-memory embedding index: each user's vector sketches, loaded from the file on that user's
 * first search and kept in step by later writes, and the Hamming-distance prefilter over them.
 */
import type { StatementSync } from "node:sqlite";
import { popcount, SKETCH_BITS, SKETCH_WORDS, sketchFromBlob } from "./vectors.ts";

/** A user's sketches, in memory; positions of forgotten entries hold id 0. */
interface UserIndex {
  ids: number[];
  conversations: string[];
  /** Each vector's length: one written under another embedding model is never compared. */
  dims: number[];
  sketches: Int32Array;
}

export interface SketchIndexes {
  /** Records a new entry's sketch, for a user whose index is loaded (others load it all on first search). */
  added(user: string, id: number, conversation: string, dims: number, sk: Int32Array): void;
  /** Marks an entry gone in its user's index, when loaded. */
  forgotten(user: string, id: number): void;
  /** Up to `max` ids whose sketches lie nearest `query`'s, among the user's entries of `dims` dimensions (and `conversation`'s). */
  nearest(user: string, query: Int32Array, dims: number, conversation: string | undefined, max: number): number[];
  clear(): void;
}

/** `sketches` lists a user's (id, conversation, dims, sketch) rows by id. */
export function createSketchIndexes(sketches: StatementSync): SketchIndexes {
  const indexes = new Map<string, UserIndex>();
  const indexOf = (user: string): UserIndex => {
    let ix = indexes.get(user);
    if (ix) return ix;
    const rows = sketches.all(user) as { id: number; conversation: string; dims: number; sketch: Uint8Array }[];
    ix = { ids: [], conversations: [], dims: [], sketches: new Int32Array(Math.max(64, rows.length) * SKETCH_WORDS) };
    for (const r of rows) push(ix, r.id, r.conversation, r.dims, sketchFromBlob(r.sketch));
    indexes.set(user, ix);
    return ix;
  };
  return {
    added(user, id, conversation, dims, sk) {
      const ix = indexes.get(user);
      if (ix) push(ix, id, conversation, dims, sk);
    },
    forgotten(user, id) {
      const ix = indexes.get(user);
      if (!ix) return;
      const i = ix.ids.indexOf(id);
      if (i >= 0) ix.ids[i] = 0;
    },
    nearest: (user, query, dims, conversation, max) => nearestIds(indexOf(user), query, dims, conversation, max),
    clear: () => indexes.clear(),
  };
}

function push(ix: UserIndex, id: number, conversation: string, dims: number, sk: Int32Array): void {
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
}

function nearestIds(ix: UserIndex, query: Int32Array, dims: number, conversation: string | undefined, max: number): number[] {
  const [a, b, c, d] = query as unknown as [number, number, number, number];
  const n = ix.ids.length;
  const sk = ix.sketches;
  // Hamming distance of every sketch (SKETCH_BITS + 1 = out of scope), then the nearest by a histogram: O(n).
  const dist = new Uint8Array(n);
  const hist = new Uint32Array(SKETCH_BITS + 2);
  for (let i = 0; i < n; i++) {
    let h = SKETCH_BITS + 1;
    // Another model's vectors (a changed embedding_model) share no space with this one's: out of scope,
    // or they would fill the candidates and push this model's entries out.
    if (ix.ids[i] !== 0 && ix.dims[i] === dims && (conversation === undefined || ix.conversations[i] === conversation)) {
      const o = i * SKETCH_WORDS;
      h = popcount(a ^ sk[o]!) + popcount(b ^ sk[o + 1]!) + popcount(c ^ sk[o + 2]!) + popcount(d ^ sk[o + 3]!);
    }
    dist[i] = h;
    hist[h]!++;
  }
  let limit = 0;
  for (let seen = 0; limit <= SKETCH_BITS && seen + hist[limit]! < max; limit++) seen += hist[limit]!;
  const ids: number[] = [];
  for (let i = 0; i < n && ids.length < max; i++) if (dist[i]! < limit) ids.push(ix.ids[i]!);
  for (let i = 0; i < n && ids.length < max && limit <= SKETCH_BITS; i++) if (dist[i] === limit) ids.push(ix.ids[i]!);
  return ids;
}
