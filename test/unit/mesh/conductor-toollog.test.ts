import { describe, expect, it } from "vitest";
import { toolLogger, LOG_TOOL_OUTCOME_CHARS } from "../../../mesh/conductor/toollog.ts";
import type { StepEvent } from "../../../mesh/conductor/types.ts";
import type { Chunk } from "../../../schemas/index.ts";

type ToolChunk = Extract<Chunk, { type: "tool_call" | "tool_result" }>;
const chunks: ToolChunk[] = [
  {
    type: "tool_call",
    data: { id: "call_0", name: "clock__now", arguments: { timezone: "UTC" }, server: "clock", tool: "now", host: "gpu-1" },
  },
  {
    type: "tool_call",
    data: { id: "call_1", name: "clock__now", arguments: { timezone: "Asia/Tokyo" }, server: "clock", tool: "now", host: "gpu-1" },
  },
  {
    type: "tool_result",
    data: {
      id: "call_1",
      name: "clock__now",
      content: "x".repeat(LOG_TOOL_OUTCOME_CHARS + 5),
      server: "clock",
      tool: "now",
      status: "ok",
      latency_ms: 4,
    },
  },
  {
    type: "tool_result",
    data: { id: "call_0", name: "clock__now", content: "noon", server: "clock", tool: "now", status: "ok", latency_ms: 9, cached: true },
  },
];

async function logged(): Promise<{ ev: StepEvent; step: string }[]> {
  const out: { ev: StepEvent; step: string }[] = [];
  const sink = toolLogger("pragmatist", async (ev, step) => void out.push({ ev, step }));
  for (const c of chunks) await sink(c);
  return out;
}

describe("tool events in the conversation log", () => {
  it("gets ordinal step ids, results matched to their call, so a re-run writes the same ids", async () => {
    const first = await logged();
    expect(first.map((e) => e.step)).toEqual([
      "specialist-tool-1",
      "specialist-tool-2",
      "specialist-tool-2-result",
      "specialist-tool-1-result",
    ]);
    expect((await logged()).map((e) => e.step)).toEqual(first.map((e) => e.step));
    expect(first[0]!.ev).toEqual({
      type: "tool_call",
      role: "pragmatist",
      tool: "now",
      server: "clock",
      host: "gpu-1",
      call: "call_0",
      arguments: { timezone: "UTC" },
    });
    expect(first[3]!.ev).toMatchObject({
      type: "tool_result",
      outcome: "noon",
      is_error: false,
      status: "ok",
      latency_ms: 9,
      cached: true,
    });
    expect((first[2]!.ev as { outcome: string }).outcome).toMatch(/… \[5 more characters\]$/);
  });
});
