/**
 * The one way tests wait for something that happens in the background: poll a check until it holds,
 * and fail naming what was awaited (and the check's last error) when it does not hold in time.
 */

/** How long `eventually` waits by default, ms (generous: the test machine is shared and loaded). */
export const EVENTUALLY_TIMEOUT_MS = 20_000;
/** How long `eventually` sleeps between two checks by default, ms. */
export const EVENTUALLY_INTERVAL_MS = 20;

export interface EventuallyOptions {
  /** Give up after this long, ms; default EVENTUALLY_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Pause between checks, ms; default EVENTUALLY_INTERVAL_MS. */
  intervalMs?: number;
}

/** A check's result that means "not yet": the check is run again. */
type NotYet = undefined | null | false;

/**
 * Runs `check` until it returns a value other than undefined, null or false without throwing, and
 * resolves with that value. A throwing check counts as "not yet" (so `expect(...)` may sit inside
 * it); on timeout the error names `what` and carries the last error as its cause.
 */
export async function eventually<T>(what: string, check: () => T | NotYet | Promise<T | NotYet>, opts: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? EVENTUALLY_TIMEOUT_MS;
  const intervalMs = opts.intervalMs ?? EVENTUALLY_INTERVAL_MS;
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== null && v !== false) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > end) {
      const why =
        lastError === undefined ? "" : `; last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
