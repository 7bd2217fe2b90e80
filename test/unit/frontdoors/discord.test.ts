import { afterEach, describe, expect, it, vi } from "vitest";
import { channelSlots, channelOfConversation, splitMessage, userRateLimiter } from "../../../agents/frontdoors/discord/index.ts";
import { preview, streamEditor } from "../../../agents/frontdoors/discord/stream.ts";

/** Every chunk opens and closes its code fences. */
const balanced = (s: string) => (s.match(/^\s*```/gm) ?? []).length % 2 === 0;

describe("splitMessage", () => {
  it("leaves a short reply whole and an empty one empty", () => {
    expect(splitMessage("hello")).toEqual(["hello"]);
    expect(splitMessage("")).toEqual([]);
  });

  it("splits on paragraph boundaries, each part within the limit", () => {
    const paras = Array.from({ length: 6 }, (_, i) => `${i}:${"word ".repeat(90).trim()}`);
    const parts = splitMessage(paras.join("\n\n"), 1000);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(1000);
    expect(parts.join("\n\n")).toBe(paras.join("\n\n"));
    for (const p of parts) expect(p).toMatch(/^\d:word/);
  });

  it("never cuts inside a code block that fits a message", () => {
    const code = "```python\n" + Array.from({ length: 20 }, (_, i) => `print(${i})  # ${"x".repeat(20)}`).join("\n") + "\n```";
    const text = `${"a".repeat(700)}\n\n${code}\n\n${"b".repeat(700)}`;
    const parts = splitMessage(text, 1200);
    expect(parts.some((p) => p === code)).toBe(true);
    for (const p of parts) expect(balanced(p)).toBe(true);
  });

  it("closes and reopens an oversized code block with the same language", () => {
    const lines = Array.from({ length: 200 }, (_, i) => `let v${i} = ${i};`);
    const parts = splitMessage("```rust\n" + lines.join("\n") + "\n```", 500);
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(500);
      expect(p.startsWith("```rust\n")).toBe(true);
      expect(p.endsWith("\n```")).toBe(true);
    }
    const body = parts.map((p) => p.slice("```rust\n".length, -"\n```".length)).join("\n");
    expect(body).toBe(lines.join("\n"));
  });

  it("closes an unclosed fence, and cuts one endless line at spaces or hard", () => {
    const parts = splitMessage("intro\n\n```js\n" + "x();\n".repeat(300), 400);
    for (const p of parts) expect(balanced(p)).toBe(true);
    const words = splitMessage("word ".repeat(500).trim(), 300);
    for (const p of words) expect(p.length).toBeLessThanOrEqual(300);
    expect(words.join(" ")).toBe("word ".repeat(500).trim());
    const blob = splitMessage("z".repeat(2500));
    expect(blob.map((p) => p.length)).toEqual([2000, 500]);
  });
});

describe("limits", () => {
  it("userRateLimiter: max messages per window per user, with the wait", () => {
    let now = 1_000;
    const l = userRateLimiter(2, 60_000, () => now);
    expect(l.take("a")).toEqual({ ok: true });
    expect(l.take("a")).toEqual({ ok: true });
    expect(l.take("b")).toEqual({ ok: true });
    expect(l.take("a")).toEqual({ ok: false, retryInMs: 60_000 });
    now += 30_000;
    expect(l.take("a")).toEqual({ ok: false, retryInMs: 30_000 });
    now += 30_001;
    expect(l.take("a")).toEqual({ ok: true });
  });

  it("channelSlots: at most max per channel, freed on release", () => {
    const s = channelSlots(2);
    expect(s.acquire("c")).toBe(true);
    expect(s.acquire("c")).toBe(true);
    expect(s.acquire("c")).toBe(false);
    expect(s.acquire("d")).toBe(true);
    s.release("c");
    expect(s.inUse("c")).toBe(1);
    expect(s.acquire("c")).toBe(true);
  });
});

describe("streamEditor", () => {
  afterEach(() => void vi.useRealTimers());

  it("writes at once, then at most once per interval, always the newest text", async () => {
    vi.useFakeTimers();
    const writes: string[] = [];
    const e = streamEditor(
      async (t) => void writes.push(t),
      1000,
      (err) => {
        throw err;
      },
    );
    e.update("a");
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toEqual(["a"]);
    e.update("ab");
    e.update("abc");
    await vi.advanceTimersByTimeAsync(999);
    expect(writes).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toEqual(["a", "abc"]);
    e.update("abc");
    await vi.advanceTimersByTimeAsync(5000);
    expect(writes).toEqual(["a", "abc"]);
    // After a quiet interval the next text goes out at once; after stop() nothing more does.
    e.update("abcd");
    await vi.advanceTimersByTimeAsync(0);
    e.update("abcde");
    await e.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(writes).toEqual(["a", "abc", "abcd"]);
  });

  it("preview cuts at the limit with an ellipsis", () => {
    expect(preview("abc", 5)).toBe("abc");
    expect(preview("abcdefgh", 5)).toBe("abcd…");
  });
});

describe("channelOfConversation", () => {
  it("reads the channel back from the conversation id", () => {
    expect(channelOfConversation("d123")).toBe("123");
    expect(channelOfConversation("d123-4")).toBe("123");
    expect(channelOfConversation("d123-u55-2")).toBe("123");
    expect(channelOfConversation("cli-abc")).toBeUndefined();
  });
});
