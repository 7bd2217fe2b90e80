/**
 * The tool plane's result cache, on the tool host's side of every hosted server: a tools/call
 * result its server marks with MCP 2026-07-28's caching fields (`ttlMs`, `cacheScope`, on the
 * result, as on the spec's cacheable results) is stored in JetStream KV, and the same call within
 * `ttlMs` is answered from there by any replica. `public` results are shared by every caller of
 * the server; `private` ones only within the caller's authorization context (the subject's user
 * token and the end user in `_meta` `lyra/user`). A result with no marking is never stored.
 */
import type { Logger } from "../mesh/index.ts";
import type { ToolCache } from "./cache.ts";
import { canonicalDigest } from "./cache.ts";
import type { McpHandler, McpRequestContext } from "./server.ts";
import { MetaKey, type JsonRpcRequest, type JsonRpcResponse } from "./wire.ts";

export const CacheScope = { Public: "public", Private: "private" } as const;
export type CacheScope = (typeof CacheScope)[keyof typeof CacheScope];

/** What the cache did for one tools/call (the `result` label of `lyra_tool_server_cache_total`). */
export const CacheResult = {
  /** Answered from the cache. */
  Hit: "hit",
  /** Not in the cache; the server's result was marked cacheable and stored. */
  Miss: "miss",
  /** The result carried no (valid) marking, was an error, or was private with no caller to scope it to. */
  Uncacheable: "uncacheable",
  /** The caller asked for a fresh result (`lyra/noCache`). */
  Bypass: "bypass",
} as const;
export type CacheResult = (typeof CacheResult)[keyof typeof CacheResult];

export interface CacheHint {
  ttlMs: number;
  scope: CacheScope;
}

/**
 * A result's marking: a hint when it may be cached, a warning when its server marked it wrongly
 * (the marking is then ignored). Absent `ttlMs` is 0 (the spec: immediately stale); absent
 * `cacheScope` is read as `private`, the reading that cannot leak. Errors are never cached.
 */
export function readCacheHint(result: Record<string, unknown>, maxTtlMs: number): { hint?: CacheHint; warning?: string } {
  const { ttlMs, cacheScope } = result;
  if (result.isError === true || (result.resultType !== undefined && result.resultType !== "complete")) return {};
  if (ttlMs === undefined) return {};
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs < 0)
    return { warning: `ttlMs ${typeof ttlMs === "number" ? ttlMs : JSON.stringify(ttlMs)} is not a non-negative number of milliseconds` };
  if (ttlMs > maxTtlMs) return { warning: `ttlMs ${ttlMs} is over the longest the tool host keeps a result (${maxTtlMs} ms)` };
  if (cacheScope !== undefined && cacheScope !== CacheScope.Public && cacheScope !== CacheScope.Private)
    return { warning: `cacheScope ${JSON.stringify(cacheScope)} is neither 'public' nor 'private'` };
  const ms = Math.floor(ttlMs);
  return ms > 0 ? { hint: { ttlMs: ms, scope: cacheScope ?? CacheScope.Private } } : {};
}

export interface ResultCacheOptions {
  server: string;
  tenant: string;
  cache: ToolCache;
  /** The longest `ttlMs` accepted (tools.cache.max_ttl_s), ms. */
  maxTtlMs: number;
  log: Logger;
  /** Counts what the cache did, by tool (the name as called). */
  count(tool: string, result: CacheResult): void;
}

/** Wraps a server's handler: tools/call goes through the cache, every other method straight on. */
export function cacheCalls(handler: McpHandler, o: ResultCacheOptions): McpHandler {
  return async (req, ctx) => {
    const p = req.params ?? {};
    // Multi round-trip retries depend on inputs outside the key: the spec says never cache them.
    if (req.method !== "tools/call" || typeof p.name !== "string" || p.inputResponses !== undefined || p.requestState !== undefined)
      return handler(req, ctx);
    const tool = p.name;
    const meta = (p._meta ?? {}) as Record<string, unknown>;
    const bypass = meta[MetaKey.NoCache] === true;
    const who = authContext(ctx, meta);
    const keyOf = (scope: CacheScope) => entryKey(o, tool, p.arguments, scope, who);
    if (!bypass) {
      const hit = await lookup(o.cache, keyOf(CacheScope.Public), who && keyOf(CacheScope.Private));
      if (hit) {
        o.count(tool, CacheResult.Hit);
        return hitResponse(req, hit.value as Record<string, unknown>, hit.at, hit.exp);
      }
    }
    const res = await handler(req, ctx);
    const stored = ctx.signal.aborted || "error" in res ? false : await store(o, tool, res.result, keyOf, who);
    o.count(tool, bypass ? CacheResult.Bypass : stored ? CacheResult.Miss : CacheResult.Uncacheable);
    return res;
  };
}

/** Who a private result belongs to; undefined for a caller with no identity (subject user `_`, no `lyra/user`). */
function authContext(ctx: McpRequestContext, meta: Record<string, unknown>): string | undefined {
  const endUser = typeof meta[MetaKey.User] === "string" ? (meta[MetaKey.User] as string) : undefined;
  if (ctx.user === "_" && endUser === undefined) return undefined;
  return JSON.stringify([ctx.user, endUser ?? null]);
}

/** `<server>.<tool>.<scope>.<sha256 of tenant, server, tool, canonical arguments and, if private, the caller>`. */
function entryKey(o: ResultCacheOptions, tool: string, args: unknown, scope: CacheScope, who: string | undefined): string {
  const token = /^[A-Za-z0-9_-]{1,64}$/.test(tool) ? tool : "_";
  const digest = canonicalDigest({ tenant: o.tenant, server: o.server, tool, args: args ?? {}, ...(scope === "private" ? { who } : {}) });
  return `${o.server}.${token}.${scope}.${digest}`;
}

async function lookup(cache: ToolCache, publicKey: string, privateKey: string | undefined) {
  const [pub, priv] = await Promise.all([cache.get(publicKey), privateKey ? cache.get(privateKey) : undefined]);
  const hit = priv ?? pub;
  return hit && typeof hit.value === "object" && hit.value !== null ? hit : undefined;
}

async function store(
  o: ResultCacheOptions,
  tool: string,
  result: Record<string, unknown>,
  keyOf: (scope: CacheScope) => string,
  who: string | undefined,
): Promise<boolean> {
  const { hint, warning } = readCacheHint(result, o.maxTtlMs);
  if (warning) o.log.warn({ server: o.server, tool }, `tool '${tool}' marked its result wrongly (${warning}): not cached`);
  if (!hint) return false;
  if (hint.scope === CacheScope.Private && !who) {
    o.log.debug({ server: o.server, tool }, "a private result of a caller with no identity: not cached");
    return false;
  }
  await o.cache.put(keyOf(hint.scope), result, hint.ttlMs);
  return true;
}

/** The stored result, marked as a hit; its `ttlMs` is what is left of its freshness (as HTTP's Age does). */
function hitResponse(req: JsonRpcRequest, result: Record<string, unknown>, at: number, exp: number): JsonRpcResponse {
  const now = Date.now();
  const meta = typeof result._meta === "object" && result._meta !== null ? (result._meta as Record<string, unknown>) : {};
  return {
    jsonrpc: "2.0",
    id: req.id,
    result: {
      ...result,
      ttlMs: Math.max(0, exp - now),
      _meta: { ...meta, [MetaKey.Cached]: true, [MetaKey.CacheAgeMs]: Math.max(0, now - at) },
    },
  };
}
