/** API keys (from the environment, never the config), whose conversations each holds, and the per-key rate limit. */
import { createHash, timingSafeEqual } from "node:crypto";
import { ErrorType, OpenAIError } from "./errors.ts";

/** Who a request is for, from its key. */
export interface Caller {
  /** The key's stable id: 'k' and the first 12 hex digits of its SHA-256 (not the key; safe to log and configure). */
  keyId: string;
  /** Whose conversations and users the key reaches: the tenant serve.tenants maps it to, else its key id. */
  tenant: string;
}

export interface Keys {
  /** The caller a `Authorization: Bearer` header's key is; throws a 401. */
  check(authorization: string | undefined): Caller;
  /** Every key's id and tenant (for the start log: never the keys); retiring keys are not listed. */
  list(): Caller[];
  /**
   * Makes `next`'s keys the keys (a reload). A key `next` lacks keeps working, with its tenant,
   * for `graceMs`, then gets a 401; a key `next` has works at once. Returns the key ids that changed.
   */
  rotate(next: Keys, graceMs: number): Rotation;
}

/** What a rotation changed, by key id. */
export interface Rotation {
  added: Caller[];
  /** Keys that keep working until their grace ends. */
  retiring: Caller[];
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** A key's id: stable across restarts and the order of the list, so its conversations stay its own. */
export const keyIdOf = (key: string): string => `k${digest(key).toString("hex").slice(0, 12)}`;

interface Entry {
  digest: Buffer;
  caller: Caller;
  /** When a retiring key stops working (the clock's ms); undefined for a current key. */
  until?: number;
}

/** Each Keys' entries, for rotate(): private to this module. */
const entriesOf = new WeakMap<Keys, readonly Entry[]>();

/**
 * Keys from a comma-separated list; an empty list is a configuration error. `tenants` (serve.tenants)
 * maps tenant names to key ids: keys of one tenant share its conversations (a rotated key keeps them).
 * `now` is the clock of the rotation grace (ms); default performance.now.
 */
export function parseKeys(
  list: string | undefined,
  envName: string,
  tenants: Readonly<Record<string, readonly string[]>> = {},
  now: () => number = () => performance.now(),
): Keys {
  const keys = (list ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.length === 0)
    throw new Error(
      `lyra serve needs API keys: set ${envName} to one or more keys, comma-separated (e.g. ${envName}=$(openssl rand -hex 24))`,
    );
  const tenantOf = new Map(Object.entries(tenants).flatMap(([t, ids]) => ids.map((id) => [id, t] as const)));
  let entries: Entry[] = keys.map((k) => {
    const keyId = keyIdOf(k);
    return { digest: digest(k), caller: { keyId, tenant: tenantOf.get(keyId) ?? keyId } };
  });
  const self: Keys = {
    check(authorization) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
      if (!m)
        throw new OpenAIError(
          401,
          ErrorType.InvalidRequest,
          "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (a key of the server's " + envName + ").",
          { code: "missing_api_key" },
        );
      const d = digest(m[1]!);
      const t = now();
      // Compare digests of equal length in constant time, against every key.
      let found: Entry | undefined;
      for (const e of entries) if (timingSafeEqual(e.digest, d) && (e.until === undefined || t < e.until)) found = e;
      if (!found) throw new OpenAIError(401, ErrorType.InvalidRequest, "Incorrect API key provided.", { code: "invalid_api_key" });
      return found.caller;
    },
    list: () => entries.filter((e) => e.until === undefined).map((e) => e.caller),
    rotate(next, graceMs) {
      const t = now();
      const fresh = entriesOf.get(next) ?? [];
      const has = (list: readonly Entry[], e: Entry) => list.some((o) => o.digest.equals(e.digest));
      const current = entries.filter((e) => e.until === undefined);
      const added = fresh.filter((e) => !has(current, e)).map((e) => e.caller);
      // Keys that leave now start their grace; those already retiring keep theirs; expired ones go.
      const leaving = current.filter((e) => !has(fresh, e)).map((e) => ({ ...e, until: t + graceMs }));
      const stillRetiring = entries.filter((e) => e.until !== undefined && t < e.until && !has(fresh, e));
      entries = [...fresh.map((e) => ({ ...e })), ...stillRetiring, ...leaving];
      entriesOf.set(self, entries);
      return { added, retiring: leaving.map((e) => e.caller) };
    },
  };
  entriesOf.set(self, entries);
  return self;
}

export interface RateLimiter {
  /** Takes one request from the key's bucket, or throws a 429 with the wait. */
  take(key: string): void;
}

/** A token bucket per key: `burst` requests at once, refilled at `rpm` a minute; rpm 0 = no limit. */
export function rateLimiter(rpm: number, burst: number, now: () => number = () => performance.now()): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = rpm / 60_000;
  return {
    take(key) {
      if (rpm === 0) return;
      const t = now();
      const b = buckets.get(key) ?? { tokens: burst, at: t };
      b.tokens = Math.min(burst, b.tokens + (t - b.at) * perMs);
      b.at = t;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return;
      }
      const waitS = Math.ceil((1 - b.tokens) / perMs / 1000);
      throw new OpenAIError(
        429,
        ErrorType.RateLimit,
        `Rate limit reached: ${rpm} requests per minute for this key (burst ${burst}). Try again in ${waitS} s.`,
        { code: "rate_limit_exceeded", retryAfterS: waitS },
      );
    },
  };
}
