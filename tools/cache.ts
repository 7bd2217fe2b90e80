/**
 * The tool-result store: a JetStream KV bucket every replica of every tool host shares. Each entry
 * carries its own expiry (the TTL its tool server asked for), because per-message TTLs need
 * nats-server 2.11 and the mesh runs on 2.10; the bucket's max age (the longest TTL accepted)
 * sweeps what no TTL would keep. A store that fails (no JetStream, slow, full) is skipped and
 * logged: it never fails a call.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { cacheBucket, stableDigest, type Logger } from "../mesh/index.ts";

/** One stored result: when it was stored and when it stops being fresh (ms since the epoch). */
export interface StoredResult {
  at: number;
  exp: number;
  value: unknown;
}

export interface ToolCache {
  /** The fresh entry under `key`, or undefined (none, expired, unreadable, or the store failed). */
  get(key: string): Promise<StoredResult | undefined>;
  put(key: string, value: unknown, ttlMs: number): Promise<void>;
}

export interface CacheOptions {
  bucket: string;
  /** The bucket's max age (created with it; an existing bucket keeps its own), ms. */
  maxAgeMs: number;
  log: Logger;
}

/** The SHA-256 (hex) of a value's canonical JSON: object keys sorted, undefined members dropped. */
export const canonicalDigest = stableDigest;

export function createKvCache(nc: NatsConnection, o: CacheOptions): ToolCache {
  const bounded = cacheBucket(nc, { bucket: o.bucket, maxAgeMs: o.maxAgeMs, name: "tool cache", log: o.log });
  return {
    async get(key) {
      const entry = await bounded("read", (b) => b.get(key));
      if (!entry || entry.operation !== "PUT") return undefined;
      try {
        const v = entry.json<StoredResult>();
        return typeof v.exp === "number" && typeof v.at === "number" && v.exp > Date.now() && v.value !== undefined ? v : undefined;
      } catch {
        return undefined; // written by something else: treat as a miss, the next put replaces it
      }
    },
    async put(key, value, ttlMs) {
      const at = Date.now();
      await bounded("write", (b) => b.put(key, JSON.stringify({ at, exp: at + ttlMs, value })));
    },
  };
}
