/**
 * One limiter per outside service: requests go out one at a time (arXiv asks for a single
 * connection) and start at least `intervalMs` apart (arXiv: one every 3 s). A Retry-After from the
 * service pushes the next start further out, so replicas' callers do not hammer a service that
 * said to wait.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface Limiter {
  /** Runs `fn` when its turn comes; rejects with the signal's reason if aborted while waiting. */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** No request starts before `ms` from now. */
  holdOff(ms: number): void;
}

export function createLimiter(intervalMs: number): Limiter {
  let nextStart = 0;
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      const turn = tail.then(async () => {
        signal?.throwIfAborted();
        const wait = nextStart - Date.now();
        if (wait > 0) await sleep(wait, undefined, { signal });
        nextStart = Date.now() + intervalMs;
        return fn();
      });
      // The chain continues whatever this call's outcome; the caller still sees its own error.
      tail = turn.catch(() => undefined);
      return turn;
    },
    holdOff(ms: number) {
      nextStart = Math.max(nextStart, Date.now() + ms);
    },
  };
}
