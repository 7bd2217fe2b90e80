/**
 * A cache's JetStream KV bucket, opened on first use, where every operation is bounded: one that
 * fails or takes longer than CACHE_OP_TIMEOUT_MS is logged and answers undefined, so a cache never
 * fails or stalls the call it serves. A bucket that cannot be opened (no JetStream, no permission)
 * is tried again after REOPEN_AFTER_MS. The response cache and the tool-result cache share it.
 */
import { createHash } from "node:crypto";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "./logger.ts";

/** A cache read or write that takes longer is abandoned: the call goes on without the cache. */
const CACHE_OP_TIMEOUT_MS = 2_000;
/** After the bucket cannot be opened, how long calls skip the cache before trying again. */
const REOPEN_AFTER_MS = 30_000;

export interface CacheBucketOptions {
  bucket: string;
  /** The bucket's max age, ms (its entries carry their own expiry; this sweeps what expired). */
  maxAgeMs: number;
  /** What the log calls it: "tool cache", "response cache". */
  name: string;
  log: Logger;
}

/** Runs `op` on the bucket; undefined when the bucket is not open or the operation failed or timed out (logged). */
export type BoundedKv = <T>(what: string, op: (kv: KV) => Promise<T>) => Promise<T | undefined>;

export function cacheBucket(nc: NatsConnection, o: CacheBucketOptions): BoundedKv {
  let kv: Promise<KV> | undefined;
  let failedAt = 0;
  const open = (): Promise<KV> | undefined => {
    if (!kv && Date.now() - failedAt >= REOPEN_AFTER_MS) {
      kv = new Kvm(nc).create(o.bucket, { ttl: o.maxAgeMs, history: 1 });
      kv.catch((err: unknown) => {
        o.log.warn(
          { err, bucket: o.bucket },
          `${o.name} bucket '${o.bucket}' cannot be opened (is JetStream enabled?); calls go uncached for ${REOPEN_AFTER_MS / 1000} s`,
        );
        failedAt = Date.now();
        kv = undefined;
      });
    }
    return kv;
  };
  return async (what, op) => {
    const bucket = open();
    if (!bucket) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`${o.name} ${what} took over ${CACHE_OP_TIMEOUT_MS} ms`)), CACHE_OP_TIMEOUT_MS)),
      );
      return await Promise.race([bucket.then(op), timeout]);
    } catch (err) {
      o.log.warn({ err, bucket: o.bucket }, `${o.name} ${what} failed; the call goes on without the cache`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** JSON with sorted keys and no undefined members: the same value from any client has one text, so one cache key. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x)
            .filter(([, y]) => y !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : x,
  );
}

/** The SHA-256 (hex) of a value's stableJson. */
export const stableDigest = (v: unknown): string => createHash("sha256").update(stableJson(v)).digest("hex");
