/**
 * The response cache of a role (roles.<role>.cache), around its handler. Exact: the key is a
 * digest of everything the role's rendered prompt depends on (the role's config, the router's
 * specialists, the request's messages with the history, options, tools and format). Semantic: the
 * last user message's embedding within the threshold of a cached call's, everything else (the
 * history before it, the system prompt, options...) the same, so a paraphrase is answered only in
 * the same context. Both are scoped to the request's user, or shared when the role is public; a
 * call without a user on a private role, a resumed answer, an answer that called tools, a fallback's
 * answer and a failed call are never cached.
 */
import {
  requestMessages,
  responseText,
  type Chunk,
  type FinalInfo,
  type ResponseCacheConfig,
  type RoleRequest,
} from "../../schemas/index.ts";
import { stableDigest, type Logger, type RoleContext, type RoleHandler } from "../../mesh/index.ts";
import type { Embedder } from "../../tools/caller.ts";
import { unit } from "./classifier.ts";
import type { ResponseCacheStore } from "./respcache-store.ts";

export type CacheKind = "exact" | "semantic";
/** What a cached role's final chunk says (FinalInfo.cache). */
export type CacheOutcome = CacheKind | "miss" | "bypass" | "uncached";
export type CacheResult = "hit" | "miss" | "bypass";

export interface ResponseCacheOptions {
  role: string;
  host: string;
  config: ResponseCacheConfig;
  /** What else shapes the role's prompt (its config, the router's specialists): part of every key. */
  salt: unknown;
  store: ResponseCacheStore;
  /** For `config.semantic`: the role's embedding model on the host's Ollama. */
  embedder?: Embedder;
  log: Logger;
  /** Each lookup, for the hits and misses counter. */
  onLookup?: (kind: CacheKind, result: CacheResult) => void;
}

/** Role config fields that change how a call runs, not what it answers: left out of the key. */
const OPERATIONAL = ["slots", "queue", "first_token_timeout_ms", "tool_timeout_ms", "keep_alive", "fallback", "cache", "description"];

/** The role's config as far as it shapes the prompt (a salt for cacheKeys). */
export function promptShaping(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([k]) => !OPERATIONAL.includes(k)));
}

/** A request's cache keys within its scope; undefined when it has no scope (a private role, no user). */
export interface CacheKeys {
  /** The answer's key: scope and the digest of the whole request. */
  exact: string;
  /** The semantic index's key: scope and the digest of all but the last user message's text. */
  index: string;
  /** The last user message's text, which the semantic cache compares; "" when there is none. */
  lastText: string;
}

/** "pub" for a public role, else the user's digest; undefined for a call without a user on a private role. */
export function scopeOf(config: ResponseCacheConfig, user: string | undefined): string | undefined {
  if (config.public) return "pub";
  return user === undefined ? undefined : `u${stableDigest(user).slice(0, 32)}`;
}

export function cacheKeys(role: string, salt: unknown, req: RoleRequest, scope: string): CacheKeys {
  const messages = requestMessages(req);
  const last = messages.findLastIndex((m) => m.role === "user");
  const lastText = last < 0 ? "" : messages[last]!.content;
  // The variant (rollout and A/B) picks the model and system prompt: one variant's answer is not another's.
  const rest = { role, salt, variant: req.variant ?? null, options: req.options ?? {}, tools: req.tools ?? [], format: req.format ?? null };
  // The last user message but its text: its images and media stay part of the context.
  const context = messages.map((m, i) => (i === last ? { ...m, content: "" } : m));
  return {
    exact: `x.${scope}.${stableDigest({ ...rest, messages })}`,
    index: `s.${scope}.${stableDigest({ ...rest, messages: context })}`,
    lastText,
  };
}

function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return -1; // another embedding model wrote it
  const ua = unit(a);
  const ub = unit(b);
  let s = 0;
  for (let i = 0; i < ua.length; i++) s += ua[i]! * ub[i]!;
  return s;
}

/** The handler with the role's response cache in front of it. */
export function cachedHandler(inner: RoleHandler, o: ResponseCacheOptions): RoleHandler {
  const kinds: CacheKind[] = [...(o.config.exact ? ["exact" as const] : []), ...(o.config.semantic ? ["semantic" as const] : [])];
  const uncached = async function* (req: RoleRequest, ctx: RoleContext, mark: CacheOutcome) {
    for await (const c of inner(req, ctx)) yield c.type === "final" ? { ...c, data: { ...c.data, cache: mark } } : c;
  };
  return async function* (req, ctx) {
    const t0 = performance.now();
    const scope = scopeOf(o.config, req.user);
    let keys: CacheKeys | undefined;
    try {
      keys = scope === undefined || req.resume ? undefined : cacheKeys(o.role, o.salt, req, scope);
    } catch {
      keys = undefined; // a request the handler refuses (a bad attachment): it says why
    }
    if (!keys) {
      yield* uncached(req, ctx, "uncached");
      return;
    }
    const bypass = req.cache === "bypass";
    let vector: Float32Array | undefined;
    if (bypass) for (const k of kinds) o.onLookup?.(k, "bypass");
    else {
      const hit = await lookup(o, keys, ctx);
      vector = hit.vector;
      if (hit.answer) {
        yield* replay(o, hit.answer, hit.kind!, hit.similarity, performance.now() - t0);
        return;
      }
    }
    let text = "";
    let final: FinalInfo | undefined;
    let cacheable = true;
    for await (const c of uncached(req, ctx, bypass ? "bypass" : "miss")) {
      if (c.type === "response") text += responseText(c);
      else if (c.type === "tool_call" || c.type === "tool_result") cacheable = false;
      else if (c.type === "final") final = c.data;
      yield c;
    }
    // The answer depends on tool results, or is the fallback's (a degraded answer): not kept.
    if (!cacheable || !final || final.fallback || !text || ctx.signal.aborted) return;
    await store(o, keys, { text, final: { ...final, cache: undefined }, at: Date.now() }, vector);
  };
}

interface Lookup {
  answer?: { text: string; final: FinalInfo };
  kind?: CacheKind;
  similarity?: number;
  /** The last user message's embedding, when the semantic cache computed it (the store reuses it). */
  vector?: Float32Array;
}

/** The last reason an embedding failed, logged once until it changes (the embedder remembers a failure for a while). */
const warned = new WeakMap<ResponseCacheOptions, string>();

async function lookup(o: ResponseCacheOptions, keys: CacheKeys, ctx: RoleContext): Promise<Lookup> {
  if (o.config.exact) {
    const answer = await o.store.getAnswer(keys.exact);
    o.onLookup?.("exact", answer ? "hit" : "miss");
    if (answer) return { answer, kind: "exact" };
  }
  const sem = o.config.semantic;
  if (!sem || !o.embedder || !keys.lastText.trim()) return {};
  const [e, index] = await Promise.all([o.embedder.embed(keys.lastText), o.store.getIndex(keys.index)]);
  if ("reason" in e) {
    if (warned.get(o) !== e.reason) ctx.log.warn({ reason: e.reason }, "response cache: the message was not embedded; no semantic lookup");
    warned.set(o, e.reason);
    o.onLookup?.("semantic", "miss");
    return {};
  }
  let best: { key: string; similarity: number } | undefined;
  for (const item of index) {
    const similarity = cosine(e.vector, item.vector);
    if (similarity >= sem.threshold && similarity > (best?.similarity ?? -1)) best = { key: item.key, similarity };
  }
  const answer = best ? await o.store.getAnswer(best.key) : undefined;
  o.onLookup?.("semantic", answer ? "hit" : "miss");
  return answer
    ? { answer, kind: "semantic", similarity: Math.round(best!.similarity * 1000) / 1000, vector: e.vector }
    : { vector: e.vector };
}

async function store(
  o: ResponseCacheOptions,
  keys: CacheKeys,
  answer: { text: string; final: FinalInfo; at: number },
  vector?: Float32Array,
) {
  const ttlMs = o.config.ttl_s * 1000;
  await o.store.putAnswer(keys.exact, answer, ttlMs);
  if (!o.config.semantic || !o.embedder || !keys.lastText.trim()) return;
  let v = vector;
  if (!v) {
    const e = await o.embedder.embed(keys.lastText);
    if ("reason" in e) return;
    v = e.vector;
  }
  await o.store.addToIndex(keys.index, { key: keys.exact, vector: v, exp: Date.now() + ttlMs });
}

/** A hit, streamed as a call is: the text as one response chunk, then a final marked with the kind of hit. */
function* replay(
  o: ResponseCacheOptions,
  a: { text: string; final: FinalInfo },
  kind: CacheKind,
  similarity: number | undefined,
  ms: number,
): Generator<Chunk> {
  yield { type: "response", data: a.text };
  const data: FinalInfo = {
    model: a.final.model,
    backend: a.final.backend,
    host: o.host,
    role: o.role,
    // No tokens were processed for this answer.
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    timings: { total_ms: ms },
    cache: kind,
  };
  if (similarity !== undefined) data.cache_similarity = similarity;
  if (a.final.done_reason) data.done_reason = a.final.done_reason;
  yield { type: "final", data };
}
