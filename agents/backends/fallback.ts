/**
 * Primary-then-fallback: a role's local Ollama first, its LiteLLM alias when Ollama fails before
 * answering or its circuit breaker is open. Once the primary has sent a chunk there is no switch
 * (the caller already has part of an answer), so such a failure is thrown.
 */
import { AbortedError, BackendError } from "../errors.ts";
import type { BackendHealth, CallOptions, ChatOptions, ModelBackend, ModelChunk, ModelRequest, WarmOptions } from "./types.ts";

export const BreakerState = { Closed: "closed", Open: "open", HalfOpen: "half_open" } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

export interface BreakerOptions {
  /** Consecutive failures that open it; default 3. */
  failureThreshold?: number;
  /** How long it stays open before one trial call, ms; default 30000. */
  openMs?: number;
  /** Clock, for tests; default Date.now. */
  now?: () => number;
}

export interface CircuitBreaker {
  state(): BreakerState;
  /** May this call go to the primary? When half-open, only one trial call at a time may. */
  tryAcquire(): boolean;
  success(): void;
  failure(): void;
  /** The call ended without a verdict (aborted by its caller). */
  release(): void;
}

export function createBreaker(opts: BreakerOptions = {}): CircuitBreaker {
  const threshold = opts.failureThreshold ?? 3;
  const openMs = opts.openMs ?? 30_000;
  const now = opts.now ?? Date.now;
  let failures = 0;
  let openedAt: number | undefined;
  let trial = false;
  const state = (): BreakerState => (openedAt === undefined ? "closed" : now() - openedAt < openMs ? "open" : "half_open");
  return {
    state,
    tryAcquire() {
      const s = state();
      if (s === "closed") return true;
      if (s === "open" || trial) return false;
      trial = true;
      return true;
    },
    success() {
      failures = 0;
      openedAt = undefined;
      trial = false;
    },
    failure() {
      failures++;
      if (trial || failures >= threshold) openedAt = now();
      trial = false;
    },
    release() {
      trial = false;
    },
  };
}

export interface FallbackEvent {
  /** Why: the primary's error code ("backend_unavailable", "first_token_timeout", …) or "breaker_open". */
  reason: string;
  /** The primary's error, when there was one. */
  error?: Error;
  model: string;
  fallbackModel: string;
  from: string;
}

export interface FallbackOptions {
  /** The model the fallback is asked for: the role's LiteLLM alias. */
  fallbackModel: string;
  /** Called each time a call goes to the fallback (log event, metric, response header). */
  onFallback?: (e: FallbackEvent) => void;
  /** The breaker guarding the primary; default createBreaker() (3 failures, 30 s open). */
  breaker?: CircuitBreaker;
}

export interface FallbackBackend extends ModelBackend {
  readonly breaker: CircuitBreaker;
}

export function withFallback(primary: ModelBackend, fallback: ModelBackend, opts: FallbackOptions): FallbackBackend {
  const breaker = opts.breaker ?? createBreaker();

  async function* chat(req: ModelRequest, chatOpts: ChatOptions = {}): AsyncGenerator<ModelChunk> {
    let reason = "breaker_open";
    let error: Error | undefined;
    if (breaker.tryAcquire()) {
      let answered = false;
      try {
        for await (const c of primary.chat(req, chatOpts)) {
          if (!answered) breaker.success();
          answered = true;
          yield c;
        }
        return;
      } catch (err) {
        // Caller aborts and script/configuration bugs say nothing about the primary's health.
        if (err instanceof AbortedError || !(err instanceof BackendError)) {
          breaker.release();
          throw err;
        }
        breaker.failure();
        if (answered) throw err;
        reason = err.code;
        error = err;
      }
    }
    opts.onFallback?.({ reason, ...(error ? { error } : {}), model: req.model, fallbackModel: opts.fallbackModel, from: primary.name });
    for await (const c of fallback.chat({ ...req, model: opts.fallbackModel }, chatOpts)) {
      yield c.type === "final" ? { ...c, fallback: { reason, from: primary.name } } : c;
    }
  }

  async function health(o?: CallOptions): Promise<BackendHealth> {
    const h = await primary.health(o);
    const state = breaker.state();
    return { ...h, breaker: state, degraded: !h.ok || state !== "closed" };
  }

  return {
    name: `${primary.name}+${fallback.name}`,
    breaker,
    chat,
    health,
    warm: (model: string, o?: WarmOptions) => primary.warm(model, o),
    // The primary's say: a call that falls back mid-resume gets a fresh answer from a fallback that cannot continue.
    canContinue: async (req: ModelRequest) => (await primary.canContinue?.(req)) ?? false,
    close: () => {
      primary.close?.();
      fallback.close?.();
    },
  };
}
