import { describe, expect, it } from "vitest";
import type { Chunk } from "../../../schemas/index.ts";
import { createCollector } from "../../../mesh/rolecall/collector.ts";

const r = (data: string): Chunk => ({ type: "response", data });
const final: Chunk = {
  type: "final",
  data: { model: "m", backend: "b", host: "h2", usage: { prompt_tokens: 0, completion_tokens: 0 }, timings: { total_ms: 1 } },
};

/** Feeds attempts and returns the text a streaming consumer saw. */
function consumerText(attempts: Chunk[][]) {
  const c = createCollector("voice");
  let seen = "";
  for (const chunks of attempts) {
    c.startAttempt();
    for (const ch of chunks) {
      const out = c.accept(ch);
      if (out?.type === "response") seen += out.data as string;
    }
  }
  return { seen, result: c.result(attempts.length) };
}

describe("collector", () => {
  it("passes a single attempt through", () => {
    const { seen, result } = consumerText([[r("a "), r("b"), final]]);
    expect(seen).toBe("a b");
    expect(result).toMatchObject({ text: "a b", attempts: 1, host: "h2" });
  });

  it("skips the prefix a re-run repeats, even across chunk boundaries", () => {
    const { seen, result } = consumerText([
      [r("one "), r("two "), r("thr")],
      [r("one two "), r("three "), r("four"), final],
    ]);
    expect(seen).toBe("one two three four");
    expect(result.text).toBe("one two three four");
    expect(result.attempts).toBe(2);
  });

  it("a shorter re-run is not re-yielded until it passes what was seen", () => {
    const { seen } = consumerText([[r("abcdef")], [r("ab"), r("cd"), r("efgh")]]);
    expect(seen).toBe("abcdefgh");
  });

  it("tool events already yielded are not repeated", () => {
    const c = createCollector("voice");
    const call: Chunk = { type: "tool_call", data: { id: "1", name: "clock", arguments: {} } };
    const res: Chunk = { type: "tool_result", data: { id: "1", name: "clock", content: "noon" } };
    c.startAttempt();
    expect(c.accept(call)).toBe(call);
    expect(c.accept(res)).toBe(res);
    c.startAttempt();
    expect(c.accept(call)).toBeUndefined();
    expect(c.accept(res)).toBeUndefined();
    const call2: Chunk = { type: "tool_call", data: { id: "2", name: "clock", arguments: {} } };
    expect(c.accept(call2)).toBe(call2);
    expect(c.result(2).toolCalls.map((t) => t.id)).toEqual(["1", "2"]);
  });

  it("status chunks always pass; without a final the result says the model is unknown", () => {
    const c = createCollector("voice");
    c.startAttempt();
    c.setHost("h1");
    const ack: Chunk = { type: "status", data: "ack" };
    expect(c.accept(ack)).toBe(ack);
    c.accept(r("x"));
    expect(c.result(1)).toMatchObject({ text: "x", host: "h1", final: { model: "unknown", host: "h1", role: "voice" } });
  });

  it("offers the shown text for a resume, and joins a resumed attempt's echo and continuation without repeats", () => {
    const c = createCollector("voice");
    const seen: string[] = [];
    const feed = (ch: Chunk) => {
      const out = c.accept(ch);
      if (out?.type === "response") seen.push(out.data as string);
    };
    c.startAttempt();
    c.setHost("h1");
    expect(c.resumable()).toBeUndefined();
    feed(r("The sea "));
    feed(r("is wi"));
    expect(c.resumable()).toBe("The sea is wi");
    // The replica died; the next one echoes the prefix it continues, then its continuation.
    c.startAttempt();
    c.setHost("h2");
    feed(r("The sea is wi"));
    feed(r("de and deep."));
    feed({ type: "final", data: { ...(final.data as object), resumed_at: 13 } } as Chunk);
    expect(seen.join("")).toBe("The sea is wide and deep.");
    expect(c.result(2)).toMatchObject({ text: "The sea is wide and deep.", resumed: [{ at: 13, from: "h1", to: "h2" }] });
  });

  it("does not offer a resume once tool events were shown", () => {
    const c = createCollector("voice");
    c.startAttempt();
    c.accept({ type: "tool_call", data: { id: "1", name: "clock__now", arguments: {} } });
    c.accept(r("It is noon"));
    expect(c.resumable()).toBeUndefined();
  });
});
