import { describe, expect, it } from "vitest";
import type { LogEvent } from "../../../schemas/index.ts";
import { costOf, nextUtcMidnight, summarizeUsage, usageRecord, utcDay, type UsageRecord } from "../../../mesh/usage.ts";

const base = { ts: Date.UTC(2026, 11, 4, 10), conversation: "c1", turn: "m1" };
const prices = { "gpt-4o": { input: 2.5, output: 10 } };

describe("usage from the log", () => {
  it("prices per million tokens in and out; a model without a price has no cost (not 0)", () => {
    expect(costOf(prices, "gpt-4o", 1_000_000, 100_000)).toBeCloseTo(3.5);
    expect(costOf(prices, "smollm2:135m", 10, 10)).toBeUndefined();
    expect(costOf(prices, "constructor", 10, 10)).toBeUndefined();
  });

  it("reads model calls from step events, skips a pipelined voice_reply (its segments count) and steps that made no call", () => {
    const meta = { backend: "ollama", model: "m", tokens_in: 5, tokens_out: 7, tokens: 7, user: "ann", role: "voice" };
    const events: LogEvent[] = [
      { ...base, type: "user_message", channel: "cli", user: { id: "ann" }, text: "hi" },
      { ...base, ...meta, type: "voice_segment", index: 0, draft: "d", text: "t" },
      { ...base, ...meta, type: "voice_reply", text: "t", segments: 1 },
      { ...base, type: "voice_reply", text: "t", backend: "none (voice failed)" },
      { ...base, type: "specialist_started", specialist: "sage" },
    ];
    const records = events.map((e) => usageRecord(e)).filter(Boolean);
    expect(records).toEqual([
      { ts: base.ts, conversation: "c1", user: "ann", role: "voice", model: "m", backend: "ollama", tokensIn: 5, tokensOut: 7 },
    ]);
  });

  it("an older event without user or tokens_out: the turn's user, completion tokens from `tokens`", () => {
    const e: LogEvent = { ...base, type: "specialist_finished", specialist: "sage", text: "x", backend: "ollama", model: "m", tokens: 9 };
    expect(usageRecord(e, "bob")).toMatchObject({ user: "bob", role: "sage", tokensIn: 0, tokensOut: 9 });
  });

  it("sums by a dimension, largest first; cost of priced calls only, the rest as unpriced tokens", () => {
    const r = (user: string, model: string, tokensIn: number, tokensOut: number): UsageRecord => ({
      ts: 0,
      conversation: "c",
      user,
      role: "voice",
      model,
      backend: "openai",
      tokensIn,
      tokensOut,
    });
    const rows = summarizeUsage([r("ann", "gpt-4o", 1e6, 0), r("bob", "local", 10, 10), r("ann", "local", 5, 5)], "user", prices);
    expect(rows).toEqual([
      { key: "ann", calls: 2, tokensIn: 1_000_005, tokensOut: 5, costUsd: 2.5, unpricedTokens: 10 },
      { key: "bob", calls: 1, tokensIn: 10, tokensOut: 10, costUsd: undefined, unpricedTokens: 20 },
    ]);
  });

  it("budget days are UTC days", () => {
    const t = Date.UTC(2026, 11, 31, 23, 59);
    expect(utcDay(t)).toBe("2026-12-31");
    expect(new Date(nextUtcMidnight(t)).toISOString()).toBe("2027-01-01T00:00:00.000Z");
  });
});
