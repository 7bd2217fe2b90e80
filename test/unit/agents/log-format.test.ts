import { describe, expect, it } from "vitest";
import { formatEvent } from "../../../agents/cli/commands/log.ts";

const ts = Date.UTC(2026, 11, 1, 0, 10, 1);
const base = { ts, conversation: "c", turn: "t" };

describe("lyra log: the pipelined voice", () => {
  it("shows each segment's rewrite and its draft on one line each, and the reply with its segment count", () => {
    const seg = formatEvent({
      ...base,
      type: "voice_segment",
      index: 0,
      draft: "First paragraph,\nwrapped.\n\n",
      text: "Lyra's first paragraph.",
      host: "gpu-3",
      backend: "ollama",
      model: "gemma3:12b",
      latency_ms: 812.4,
    });
    expect(seg.split("\n")).toEqual([
      "00:10:01.000 voice piece 1 @gpu-3 ollama/gemma3:12b 812ms: Lyra's first paragraph.",
      "               draft: First paragraph, wrapped.",
    ]);
    expect(formatEvent({ ...base, type: "voice_reply", text: "A\n\nB", segments: 2, backend: "ollama" })).toBe(
      "00:10:01.000 voice (2 pieces): A\n\nB",
    );
    expect(formatEvent({ ...base, type: "voice_reply", text: "One call.", backend: "ollama", model: "m" })).toBe(
      "00:10:01.000 voice ollama/m: One call.",
    );
  });
});
