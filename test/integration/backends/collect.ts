import type { FinalModelChunk, ModelChunk } from "../../../agents/backends/index.ts";
import type { ToolCall } from "../../../schemas/index.ts";

export interface Collected {
  text: string;
  calls: ToolCall[];
  final: FinalModelChunk | undefined;
  chunks: ModelChunk[];
}

/** Drains a chat stream into its parts. */
export async function collect(stream: AsyncIterable<ModelChunk>): Promise<Collected> {
  const out: Collected = { text: "", calls: [], final: undefined, chunks: [] };
  for await (const c of stream) {
    out.chunks.push(c);
    if (c.type === "delta") out.text += c.text;
    else if (c.type === "tool_call") out.calls.push(c.call);
    else out.final = c;
  }
  return out;
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}
