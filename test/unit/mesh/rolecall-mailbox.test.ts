import { describe, expect, it } from "vitest";
import { createAnswerCache } from "../../../mesh/rolecall/dedup.ts";
import { createMailbox } from "../../../mesh/rolecall/mailbox.ts";

describe("mailbox", () => {
  it("hands over items in order, waiting when empty", async () => {
    const box = createMailbox<number>();
    box.push(1);
    expect(await box.take(10)).toBe(1);
    const next = box.take(1000);
    box.push(2);
    expect(await next).toBe(2);
  });

  it("a wait ends with undefined after its time", async () => {
    const box = createMailbox<number>();
    expect(await box.take(5)).toBeUndefined();
    expect(await box.take(0)).toBeUndefined();
  });

  it("fail() rejects the current and every later wait, and drops items", async () => {
    const box = createMailbox<number>();
    const waiting = box.take(10_000);
    box.fail(new Error("closed"));
    await expect(waiting).rejects.toThrow("closed");
    box.push(3);
    await expect(box.take(10)).rejects.toThrow("closed");
    await expect(box.sleep(10)).rejects.toThrow("closed");
    box.fail(new Error("second")); // first failure wins
    expect(box.failure?.message).toBe("closed");
  });

  it("sleep drops items and can be interrupted", async () => {
    const box = createMailbox<number>();
    box.push(1);
    await box.sleep(5);
    expect(await box.take(0)).toBeUndefined();
    const sleeping = box.sleep(10_000);
    box.fail(new Error("cancelled"));
    await expect(sleeping).rejects.toThrow("cancelled");
  });
});

describe("answer cache", () => {
  const answer = (text: string) => ({
    answer: {
      text,
      toolCalls: [],
      toolEvents: [],
      final: { model: "m", backend: "b", host: "h", usage: { prompt_tokens: 0, completion_tokens: 0 }, timings: { total_ms: 1 } },
    },
    claim: { caller: "_INBOX", digest: text },
  });

  it("forgets entries after the window", () => {
    let now = 0;
    const c = createAnswerCache(1000, 10, () => now);
    c.set("a", answer("A"));
    now = 1000;
    expect(c.get("a")?.answer.text).toBe("A");
    now = 1001;
    expect(c.get("a")).toBeUndefined();
  });

  it("keeps at most maxEntries, dropping the oldest", () => {
    const c = createAnswerCache(60_000, 2);
    c.set("a", answer("A"));
    c.set("b", answer("B"));
    c.set("c", answer("C"));
    expect(c.size).toBe(2);
    expect(c.get("a")).toBeUndefined();
    expect(c.get("c")?.answer.text).toBe("C");
  });
});
