/**
 * How a call waits between attempts, and what it says when an outage outlasts its deadline. An
 * outage is an attempt nobody answered: no responders, no ack, a keep-alive gap, a replica
 * shutting down. A call that waits outages out (onOutage "wait") is bounded by its deadline, not
 * by its attempt count: an agent restarted or frozen for a few seconds is waited for.
 */
import { CallCode } from "../../schemas/index.ts";
import { DeadlineExceededError, type RoleCallError } from "../errors.ts";

/** The first backoff while no replica answers; it doubles up to OUTAGE_BACKOFF_MAX_MS. */
export const OUTAGE_BACKOFF_MS = 100;
/** The longest wait between two attempts of an outage, so a returning agent is found within ~2 s. */
export const OUTAGE_BACKOFF_MAX_MS = 2000;

/** Between half and all of `ms`, so callers that failed together do not retry together. */
export function jitter(ms: number): number {
  return ms * (0.5 + Math.random() * 0.5);
}

/** The n-th backoff (from 1): 100 ms doubling to 2 s, jittered. */
export function backoffMs(n: number): number {
  return jitter(Math.min(OUTAGE_BACKOFF_MAX_MS, OUTAGE_BACKOFF_MS * 2 ** (n - 1)));
}

/** An attempt nobody answered. */
export interface OutageEnd {
  /** When the replica was last heard from (or the request sent, when it never was). */
  silentSince: number;
  /** Back off from the first retry (no responders: nothing was waited for yet). */
  backoff: boolean;
}

export interface Outage {
  /** Records an outage attempt and its error; returns the wait before the next one: `quickMs` or a backoff. */
  next(end: OutageEnd, error: RoleCallError, quickMs: number): number;
  /** A replica answered (even with a refusal): the outage is over. */
  reset(): void;
  /** The error for a deadline that passed during the outage; undefined when there is none. */
  deadlineError(): DeadlineExceededError | undefined;
}

/**
 * The first `quick` re-issues after a silent replica go at once (another replica may be alive,
 * and the ack window already paced them); the later ones, and every retry after no responders,
 * back off.
 */
export function createOutage(role: string, quick: number, now = Date.now): Outage {
  let since: number | undefined;
  let last: RoleCallError | undefined;
  let count = 0;
  let backoffs = 0;
  return {
    next(end, error, quickMs) {
      since ??= end.silentSince;
      last = error;
      count++;
      return !end.backoff && count < quick ? quickMs : backoffMs(++backoffs);
    },
    reset() {
      since = undefined;
      count = 0;
    },
    deadlineError() {
      if (since === undefined || !last) return undefined;
      const s = Number(((now() - since) / 1000).toFixed(1));
      const why = last.message.replace(`role '${role}': `, "");
      return new DeadlineExceededError(
        CallCode.Timeout,
        role,
        `no agent served role '${role}' for ${s} s, until the call's deadline (last attempt: ${why}; ${count} ` +
          `attempts); check that an agent serves it ('lyra status') or give the call a longer deadline`,
        undefined,
        { cause: last },
      );
    },
  };
}
