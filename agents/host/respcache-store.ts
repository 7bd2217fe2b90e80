/**
 * Where the response cache keeps its answers: the mesh's JetStream KV bucket, shared by every
 * agent host and replica. Each value carries its own expiry (roles keep answers for different
 * times; per-message TTLs need nats-server 2.11), and the bucket's max age sweeps what expired.
 * A semantic index entry lists the recent answers of one scope and context with their embeddings.
 * A store that fails (no JetStream, slow, a value too large) is skipped and logged: it never fails a call.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { FinalInfo } from "../../schemas/index.ts";
import { cacheBucket, type Logger } from "../../mesh/index.ts";

/** Answers one semantic index entry lists at most (the newest kept): about 2 KiB each with all-minilm. */
export const SEMANTIC_INDEX_MAX = 32;

/** A cached answer: its text and the final chunk of the call that wrote it. */
export interface CachedAnswer {
  text: string;
  final: FinalInfo;
  /** Epoch ms when it was stored. */
  at: number;
}

/** One answer of a semantic index: its exact key and the embedding of its last user message. */
export interface IndexedAnswer {
  key: string;
  vector: Float32Array;
  exp: number;
}

export interface ResponseCacheStore {
  getAnswer(key: string): Promise<CachedAnswer | undefined>;
  putAnswer(key: string, answer: CachedAnswer, ttlMs: number): Promise<void>;
  /** The unexpired answers of a semantic index entry. */
  getIndex(key: string): Promise<IndexedAnswer[]>;
  /** Adds an answer to a semantic index entry (replacing one with the same key; the oldest go past SEMANTIC_INDEX_MAX). */
  addToIndex(key: string, item: IndexedAnswer): Promise<void>;
}

export interface ResponseCacheStoreOptions {
  bucket: string;
  /** The bucket's max age, ms: the longest ttl of the mesh's roles. */
  maxAgeMs: number;
  log: Logger;
}

type Stored = { exp: number; text: string; final: FinalInfo; at: number };
type StoredIndex = { items: { key: string; v: string; exp: number }[] };

export function createResponseCacheStore(nc: NatsConnection, o: ResponseCacheStoreOptions): ResponseCacheStore {
  const bounded = cacheBucket(nc, { bucket: o.bucket, maxAgeMs: o.maxAgeMs, name: "response cache", log: o.log });
  const read = async <T>(key: string): Promise<{ value: T; revision: number } | undefined> => {
    const e = await bounded("read", (b) => b.get(key));
    if (!e || e.operation !== "PUT") return undefined;
    try {
      return { value: e.json<T>(), revision: e.revision };
    } catch {
      return undefined; // not ours: a miss, the next put replaces it
    }
  };
  const liveItems = (ix: StoredIndex | undefined) => (Array.isArray(ix?.items) ? ix.items.filter((i) => i.exp > Date.now()) : []);
  return {
    async getAnswer(key) {
      const r = await read<Stored>(key);
      const v = r?.value;
      if (!v || typeof v.text !== "string" || !v.final || !(v.exp > Date.now())) return undefined;
      return { text: v.text, final: v.final, at: v.at };
    },
    async putAnswer(key, a, ttlMs) {
      const value: Stored = { exp: Date.now() + ttlMs, ...a };
      await bounded("write", (b) => b.put(key, JSON.stringify(value)));
    },
    async getIndex(key) {
      return liveItems((await read<StoredIndex>(key))?.value).map((i) => ({ key: i.key, exp: i.exp, vector: fromBase64(i.v) }));
    },
    async addToIndex(key, item) {
      const entry = { key: item.key, v: toBase64(item.vector), exp: item.exp };
      // Two writers at once: the second's update fails on the revision, reads the first's and adds again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const cur = await read<StoredIndex>(key);
        const items = [...liveItems(cur?.value).filter((i) => i.key !== item.key), entry].slice(-SEMANTIC_INDEX_MAX);
        const body = JSON.stringify({ items } satisfies StoredIndex);
        const done = await bounded("index write", async (b) => {
          try {
            await (cur ? b.update(key, body, cur.revision) : b.create(key, body));
            return true;
          } catch (err) {
            if (/wrong last sequence|key exists/i.test((err as Error).message)) return false;
            throw err;
          }
        });
        if (done !== false) return;
      }
    },
  };
}

function toBase64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
}

function fromBase64(s: string): Float32Array {
  const b = Buffer.from(s, "base64");
  // A copy: Buffer.from may share a pool whose offset is not 4-aligned.
  return new Float32Array(new Uint8Array(b).buffer, 0, Math.floor(b.length / 4));
}
