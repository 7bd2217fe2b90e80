/** `lyra compare`'s figures from log events: per variant calls, errors, fallbacks, times, lengths; answer pairs. */
import { describe, expect, it } from "vitest";
import type { LogEvent } from "../../../schemas/index.ts";
import { answerPairs, compareReport, variantStats } from "../../../agents/cli/compare.ts";

const base = (turn: string) => ({ ts: 1_764_800_000_000, conversation: "c1", turn });
const finished = (turn: string, variant: string, text: string, extra: Record<string, unknown> = {}): LogEvent => ({
  ...base(turn),
  type: "specialist_finished",
  specialist: "pragmatist",
  text,
  role: "pragmatist",
  variant,
  latency_ms: 100,
  first_token_ms: 10,
  ...extra,
});

const events: LogEvent[] = [
  { ...base("t1"), type: "user_message", channel: "cli", user: { id: "u" }, text: "How do I boil an egg?" },
  finished("t1", "control", "Boil it for nine minutes."),
  {
    ...base("t1"),
    type: "shadow_answer",
    role: "pragmatist",
    step: "specialist",
    variant: "terse",
    text: "Nine minutes.",
    latency_ms: 50,
    primary: { variant: "control", text: "Boil it for nine minutes.", latency_ms: 100 },
  },
  finished("t2", "candidate", "abcd", { fallback: "backend_unavailable", latency_ms: 300 }),
  { ...base("t3"), type: "fallback_used", role: "pragmatist", reason: "no agent" },
  finished("t3", "candidate", "abcdef", { latency_ms: 500 }),
  {
    ...base("t4"),
    type: "error",
    step: "specialist",
    code: "deadline_exceeded",
    message: "late",
    role: "pragmatist",
    variant: "candidate",
  },
  { ...base("t5"), type: "shadow_answer", role: "pragmatist", step: "specialist", variant: "terse", text: "", error: "busy" },
  // Another role's variant of the same name is not this role's.
  { ...base("t6"), type: "voice_reply", text: "x", role: "voice", variant: "control", latency_ms: 1 },
];

describe("lyra compare", () => {
  it("counts calls, errors and fallbacks (the agent's and the conductor's) per variant, shadows apart", () => {
    const rows = variantStats("pragmatist", events);
    expect(rows.map((r) => [r.variant, r.shadow, r.calls, r.errors, r.fallbacks])).toEqual([
      ["candidate", false, 3, 1, 2],
      ["control", false, 1, 0, 0],
      ["terse", true, 2, 1, 0],
    ]);
    expect(rows[0]!.total).toEqual([300, 500]);
    expect(rows[0]!.chars).toEqual([4, 6]);
  });

  it("prints a table and the pairs of answers to one prompt", () => {
    const report = compareReport("pragmatist", events, { since: "2026-12-04T00:00:00Z", pairs: 5 });
    expect(report).toMatch(/^candidate\s+answers\s+3\s+10 ms\s+300 ms\s+500 ms\s+5\s+33\.3 %\s+66\.7 %$/m);
    expect(report).toMatch(/^terse\s+shadow\s+2\s+-\s+50 ms\s+50 ms\s+13\s+50\.0 %\s+0\.0 %$/m);
    expect(answerPairs("pragmatist", events, 5)).toBe(
      [
        "[2025-12-03 22:13:20 · c1 · turn t1 · specialist]",
        "  prompt: How do I boil an egg?",
        "  control (primary, 100 ms): Boil it for nine minutes.",
        "  terse (shadow, 50 ms): Nine minutes.",
      ].join("\n"),
    );
    expect(compareReport("router", events, { since: "1h", pairs: 5 })).toMatch(/^no calls of role 'router' with a variant/);
  });
});
