import { describe, expect, it } from "vitest";
import { createBreaker } from "../../../agents/backends/index.ts";

describe("circuit breaker", () => {
  const clock = () => {
    let t = 1_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it("opens after 3 consecutive failures; a success resets the count", () => {
    const c = clock();
    const b = createBreaker({ now: c.now });
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state()).toBe("closed");
    b.failure();
    expect(b.state()).toBe("open");
    expect(b.tryAcquire()).toBe(false);
  });

  it("after 30 s it lets exactly one trial through; success closes it", () => {
    const c = clock();
    const b = createBreaker({ now: c.now });
    for (let i = 0; i < 3; i++) b.failure();
    c.advance(29_999);
    expect(b.tryAcquire()).toBe(false);
    c.advance(1);
    expect(b.state()).toBe("half_open");
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.success();
    expect(b.state()).toBe("closed");
    expect(b.tryAcquire()).toBe(true);
  });

  it("a failed trial opens it for another period; a released trial frees the slot", () => {
    const c = clock();
    const b = createBreaker({ now: c.now, failureThreshold: 2, openMs: 1_000 });
    b.failure();
    b.failure();
    c.advance(1_000);
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    expect(b.state()).toBe("open");
    c.advance(999);
    expect(b.state()).toBe("open");
    c.advance(1);
    expect(b.state()).toBe("half_open");
  });
});
