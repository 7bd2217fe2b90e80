/** The front door's own limits: messages per user per window, turns in flight per channel. */

export interface UserRateLimiter {
  /** Counts one message; `ok: false` with the wait when the user is over the limit (that message is not counted). */
  take(user: string): { ok: true } | { ok: false; retryInMs: number };
}

/** A sliding window of `max` messages per `windowMs` for each user. */
export function userRateLimiter(max: number, windowMs: number, now: () => number = Date.now): UserRateLimiter {
  const seen = new Map<string, number[]>();
  return {
    take(user) {
      const t = now();
      const recent = (seen.get(user) ?? []).filter((at) => at > t - windowMs);
      if (recent.length >= max) {
        seen.set(user, recent);
        return { ok: false, retryInMs: recent[0]! + windowMs - t };
      }
      recent.push(t);
      seen.set(user, recent);
      // Forget quiet users, so the map does not grow with every user ever seen.
      if (seen.size > 10_000) for (const [u, ts] of seen) if (!ts.some((at) => at > t - windowMs)) seen.delete(u);
      return { ok: true };
    },
  };
}

export interface ChannelSlots {
  /** Takes a slot of the channel; false when all `max` are taken. */
  acquire(channel: string): boolean;
  release(channel: string): void;
  inUse(channel: string): number;
}

export function channelSlots(max: number): ChannelSlots {
  const used = new Map<string, number>();
  return {
    acquire(ch) {
      const n = used.get(ch) ?? 0;
      if (n >= max) return false;
      used.set(ch, n + 1);
      return true;
    },
    release(ch) {
      const n = (used.get(ch) ?? 0) - 1;
      if (n <= 0) used.delete(ch);
      else used.set(ch, n);
    },
    inUse: (ch) => used.get(ch) ?? 0,
  };
}
