/**
 * A specialist's tool calls and results, as they stream by, become conversation log events. Ids
 * are ordinal within the step (`specialist-tool-<n>`, `specialist-tool-<n>-result`), so a re-run
 * of the turn that makes the same calls appends nothing new (JetStream de-duplicates the ids).
 */
import type { Chunk } from "../../schemas/index.ts";
import type { StepEvent } from "./types.ts";

/** Longest tool result text kept in the log; the agent gave the model the whole of it. */
export const LOG_TOOL_OUTCOME_CHARS = 2_000;

export type ToolEventSink = (c: Extract<Chunk, { type: "tool_call" | "tool_result" }>) => Promise<void>;

export function toolLogger(role: string, append: (ev: StepEvent, step: string) => Promise<void>, step = "specialist"): ToolEventSink {
  const ordinal = new Map<string, number>();
  return async (c) => {
    if (c.type === "tool_call") {
      const d = c.data;
      const n = ordinal.size + 1;
      ordinal.set(d.id, n);
      await append(
        { type: "tool_call", role, tool: d.tool ?? d.name, arguments: d.arguments, call: d.id, ...where(d) },
        `${step}-tool-${n}`,
      );
      return;
    }
    const d = c.data;
    let n = ordinal.get(d.id);
    if (n === undefined) ordinal.set(d.id, (n = ordinal.size + 1)); // a result whose call was not seen: still logged once
    const outcome =
      d.content.length > LOG_TOOL_OUTCOME_CHARS
        ? `${d.content.slice(0, LOG_TOOL_OUTCOME_CHARS)}… [${d.content.length - LOG_TOOL_OUTCOME_CHARS} more characters]`
        : d.content;
    await append(
      {
        type: "tool_result",
        role,
        tool: d.tool ?? d.name,
        outcome,
        is_error: d.is_error ?? false,
        call: d.id,
        ...(d.status !== undefined ? { status: d.status } : {}),
        ...(d.latency_ms !== undefined ? { latency_ms: d.latency_ms } : {}),
        ...(d.media?.length ? { media: d.media } : {}),
        ...(d.cached ? { cached: true } : {}),
        ...where(d),
      },
      `${step}-tool-${n}-result`,
    );
  };
}

function where(d: { server?: string; host?: string }): { server?: string; host?: string } {
  return { ...(d.server !== undefined ? { server: d.server } : {}), ...(d.host !== undefined ? { host: d.host } : {}) };
}
