/**
 * Tool results cached in a JetStream KV bucket, so every replica of the server shares them (the
 * seed's "tool result caching"). The key is a hash of the tool and its normalized arguments; the
 * value carries its own expiry, because per-message TTLs need nats-server 2.11 and the bucket is
 * shared with other tool servers that may want other TTLs (the bucket's max age only sweeps).
 * A cache that fails (no JetStream, slow, full) is skipped and logged: it never fails a call.
 */
import { createHash } from "node:crypto";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../../../mesh/index.ts";

/** The bucket's own max age: a sweep of entries no TTL would keep longer. */
const BUCKET_MAX_AGE_MS = 24 * 3600_000;
/** A cache read or write that takes longer is abandoned: the service answers instead. */
const CACHE_OP_TIMEOUT_MS = 2_000;
/** After the bucket cannot be opened, how long calls skip the cache before trying again. */
const REOPEN_AFTER_MS = 30_000;

export interface ToolCache {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
}

export interface CacheOptions {
  bucket: string;
  ttlMs: number;
  log: Logger;
}

/** The cache key: `<prefix>.<sha256 of the tool and its normalized arguments>` (KV-safe characters). */
export function cacheKey(prefix: string, tool: string, args: unknown): string {
  return `${prefix}.${tool}.${createHash("sha256")
    .update(JSON.stringify(normalize(args)))
    .digest("hex")}`;
}

/** Sorted keys, trimmed and collapsed strings: the same question asked twice hits one entry. */
function normalize(v: unknown): unknown {
  if (typeof v === "string") return v.replace(/\s+/g, " ").trim();
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, normalize(x)]),
    );
  return v;
}

export function createKvCache(nc: NatsConnection, o: CacheOptions): ToolCache {
  let kv: Promise<KV> | undefined;
  let failedAt = 0;
  const open = (): Promise<KV> | undefined => {
    if (!kv && Date.now() - failedAt >= REOPEN_AFTER_MS) {
      kv = new Kvm(nc).create(o.bucket, { ttl: BUCKET_MAX_AGE_MS, history: 1 });
      kv.catch((err: unknown) => {
        o.log.warn(
          { err, bucket: o.bucket },
          `tool cache bucket '${o.bucket}' cannot be opened (is JetStream enabled?); calls go uncached for ${REOPEN_AFTER_MS / 1000} s`,
        );
        failedAt = Date.now();
        kv = undefined;
      });
    }
    return kv;
  };
  const bounded = async <T>(what: string, op: (kv: KV) => Promise<T>): Promise<T | undefined> => {
    const bucket = open();
    if (!bucket) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`tool cache ${what} took over ${CACHE_OP_TIMEOUT_MS} ms`)), CACHE_OP_TIMEOUT_MS)),
      );
      return await Promise.race([bucket.then(op), timeout]);
    } catch (err) {
      o.log.warn({ err, bucket: o.bucket }, `tool cache ${what} failed; the call goes on without the cache`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    async get(key) {
      const entry = await bounded("read", (b) => b.get(key));
      if (!entry || entry.operation !== "PUT") return undefined;
      try {
        const v = entry.json<{ exp: number; value: string }>();
        return typeof v.value === "string" && v.exp > Date.now() ? v.value : undefined;
      } catch {
        return undefined; // written by something else: treat as a miss, the next put replaces it
      }
    },
    async put(key, value) {
      await bounded("write", (b) => b.put(key, JSON.stringify({ exp: Date.now() + o.ttlMs, value })));
    },
  };
}

/** For `cache: false`: every call reaches the service. */
export const noCache: ToolCache = { get: async () => undefined, put: async () => undefined };
