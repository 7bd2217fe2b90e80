import { describe, expect, it } from "vitest";
import { CallCode } from "../../../schemas/index.ts";
import { DeadlineExceededError, UnavailableError } from "../../../mesh/errors.ts";
import { backoffMs, createOutage, OUTAGE_BACKOFF_MAX_MS, OUTAGE_BACKOFF_MS } from "../../../mesh/rolecall/retry.ts";

const dead = new UnavailableError(CallCode.Unavailable, "voice", "replica presumed dead: no ack within 1000 ms");

describe("outage retries", () => {
  it("back off from 100 ms, doubling to 2 s, jittered to between half and all of it", () => {
    for (let n = 1; n <= 10; n++) {
      const full = Math.min(OUTAGE_BACKOFF_MAX_MS, OUTAGE_BACKOFF_MS * 2 ** (n - 1));
      const d = backoffMs(n);
      expect(d).toBeGreaterThanOrEqual(full / 2);
      expect(d).toBeLessThanOrEqual(full);
    }
  });

  it("re-issue at once after a silent replica up to the quick count, then back off; no responders backs off from the first", () => {
    const o = createOutage("voice", 3);
    const silent = { silentSince: 0, backoff: false };
    expect([o.next(silent, dead, 0), o.next(silent, dead, 0)]).toEqual([0, 0]);
    expect(o.next(silent, dead, 0)).toBeGreaterThanOrEqual(OUTAGE_BACKOFF_MS / 2);
    const none = createOutage("voice", 3);
    expect(none.next({ silentSince: 0, backoff: true }, dead, 0)).toBeGreaterThanOrEqual(OUTAGE_BACKOFF_MS / 2);
  });

  it("past the deadline, the error names the role, how long it went unserved, the last attempt's cause and the fix", () => {
    let t = 1000;
    const o = createOutage("voice", 5, () => t);
    expect(o.deadlineError()).toBeUndefined();
    o.next({ silentSince: 1000, backoff: false }, dead, 0);
    t = 31_000;
    o.next({ silentSince: 29_000, backoff: false }, dead, 0);
    const err = o.deadlineError()!;
    expect(err).toBeInstanceOf(DeadlineExceededError);
    expect(err.status).toBe(CallCode.Timeout);
    expect(err.message).toBe(
      "role 'voice': no agent served role 'voice' for 30 s, until the call's deadline (last attempt: replica presumed dead: " +
        "no ack within 1000 ms; 2 attempts); check that an agent serves it ('lyra status') or give the call a longer deadline",
    );
    expect(err.cause).toBe(dead);
    o.reset();
    expect(o.deadlineError()).toBeUndefined();
  });
});
