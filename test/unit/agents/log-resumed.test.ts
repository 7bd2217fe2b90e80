import { describe, expect, it } from "vitest";
import { formatEvent } from "../../../agents/cli/commands/log.ts";
import { stepMeta } from "../../../mesh/conductor/step.ts";
import { LogEvent } from "../../../schemas/index.ts";

describe("a resumed step in the log", () => {
  const result = {
    text: "The sea is wide and deep.",
    final: { model: "m", backend: "ollama", host: "gpu-2", usage: { prompt_tokens: 3, completion_tokens: 5 }, timings: { total_ms: 40 } },
    toolCalls: [],
    host: "gpu-2",
    attempts: 2,
    route: "queue group",
    resumed: [{ at: 13, from: "gpu-1", to: "gpu-2" }],
  };

  it("the step's event carries where the answer resumed, and lyra log says so", () => {
    const meta = stepMeta(result);
    expect(meta.resumed).toEqual([{ at: 13, from: "gpu-1", to: "gpu-2" }]);
    const e = LogEvent.parse({ type: "voice_reply", ts: Date.UTC(2026, 11, 1), conversation: "c", turn: "t", text: result.text, ...meta });
    expect(formatEvent(e)).toContain("[queue group; resumed at 13 chars: gpu-1 → gpu-2]");
  });

  it("a step that never resumed has no such field", () => {
    const { resumed: _r, ...plain } = result;
    expect(stepMeta(plain)).not.toHaveProperty("resumed");
  });
});
