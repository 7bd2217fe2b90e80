/**
 * The start gate of a supervised upstream: one start attempt at a time (connect within a time
 * limit), backoff waits, and close(), which cuts both short so a stop never waits out a delay.
 */
import { ToolsError, ToolsErrorCode } from "./errors.ts";
import type { UpstreamAttempt } from "./upstream.ts";

export interface StartGate {
  closed: () => boolean;
  /** Waits `ms`; ends at once on close(). */
  sleep: (ms: number) => Promise<void>;
  /** Connects the attempt's client; a failure (or close() meanwhile) is a ToolsError('upstream_start') and the client is closed. */
  start: (attempt: UpstreamAttempt, timeoutMs: number) => Promise<UpstreamAttempt>;
  /** From now on closed: the wait in progress ends and the start in progress fails. */
  close: () => Promise<void>;
}

export function createStartGate(): StartGate {
  let closed = false;
  let wake: (() => void) | undefined;
  let cancelStart: (() => void) | undefined;
  let starting: UpstreamAttempt | undefined;
  return {
    closed: () => closed,
    // Backoff waits end at once on close(), so a stop never waits out a 30 s delay.
    sleep: (ms) =>
      closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const t = setTimeout(() => ((wake = undefined), resolve()), ms);
            wake = () => (clearTimeout(t), (wake = undefined), resolve());
          }),
    async start(attempt, timeoutMs) {
      starting = attempt;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          attempt.client.connect(attempt.transport),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer to initialize within ${timeoutMs} ms`)), timeoutMs);
            cancelStart = () => reject(new Error("lyra tools is shutting down"));
          }),
        ]);
      } catch (err) {
        await attempt.client.close().catch(() => undefined);
        throw new ToolsError(ToolsErrorCode.UpstreamStart, (err as Error).message, { cause: err });
      } finally {
        clearTimeout(timer);
        starting = undefined;
        cancelStart = undefined;
      }
      return attempt;
    },
    async close() {
      closed = true;
      wake?.();
      cancelStart?.();
      // A start in progress is cut short: its connect then fails and the loop ends.
      await starting?.client.close().catch(() => undefined);
    },
  };
}
