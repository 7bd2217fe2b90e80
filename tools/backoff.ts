/**
 * Restart delays for a bridged MCP server: exponential from `initialMs`, capped at `maxMs`, back
 * to the start once a run lasted `stableMs` (a server that crashes once a day restarts at once;
 * one that crashes on every start does not spin).
 */
export interface BackoffOptions {
  /** First delay, ms; default 500. */
  initialMs?: number;
  /** Cap, ms; default 30000. */
  maxMs?: number;
  /** A run at least this long resets the delay, ms; default 60000. */
  stableMs?: number;
}

const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000, stableMs: 60_000 } as const;

export interface Backoff {
  /** The delay before the next start, given how long the last run lasted (0 when it never started). */
  next(ranMs: number): number;
}

export function createBackoff(o: BackoffOptions = {}): Backoff {
  const initialMs = o.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const maxMs = o.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const stableMs = o.stableMs ?? DEFAULT_BACKOFF.stableMs;
  let n = 0;
  return {
    next(ranMs) {
      if (ranMs >= stableMs) n = 0;
      const d = Math.min(maxMs, initialMs * 2 ** Math.min(n, 30));
      n++;
      return d;
    },
  };
}
