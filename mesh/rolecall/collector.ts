/**
 * Collects a call's chunks across attempts. Each attempt's stream starts from the beginning (a
 * fresh replica re-runs the request; a replica that already runs it replays what it sent; a
 * replica that continues a resumed answer first sends the text it continues), so what a streaming
 * consumer already saw is skipped: the first N characters of response text and the first N
 * tool_call / tool_result chunks. A re-issue after text was shown carries that text (`resume`,
 * see resumable()) so the new replica continues it; where it cannot (a backend that cannot
 * continue, tool events already shown, a responder that is not Lyra's) the re-run is assumed to
 * produce the same output, and when it differs the consumer has seen the dead attempt's prefix and
 * the new attempt's remainder, while `result.text` is the new attempt's complete text.
 */
import { responseText, type Chunk, type FinalInfo, type ToolCall } from "../../schemas/index.ts";
import type { Resumed, RoleResult } from "./types.ts";

export interface Collector {
  /** Starts an attempt: its text and events are counted from zero. */
  startAttempt(): void;
  /** Records a chunk; returns what the consumer should see (trimmed or none) . */
  accept(chunk: Chunk): Chunk | undefined;
  /** Sets the answering host (from the ack's Lyra-Host header) and the attempt's routing decision. */
  setHost(host: string, route?: string): void;
  /** The text the consumer has seen, for a re-issue to resume; undefined when there is none or tool events were shown. */
  resumable(): string | undefined;
  result(attempts: number): RoleResult;
}

export function createCollector(role: string, startedAt = Date.now()): Collector {
  const seen = { text: 0, toolCalls: 0, toolResults: 0 };
  let text = "";
  let toolCalls: ToolCall[] = [];
  let toolResults = 0;
  let final: FinalInfo | undefined;
  let host = "";
  let route: string | undefined;
  let shown = "";
  let hostBefore = "";
  const resumed: Resumed[] = [];

  return {
    startAttempt() {
      hostBefore = host;
      text = "";
      toolCalls = [];
      toolResults = 0;
      final = undefined;
    },
    setHost(h, r) {
      host = h;
      route = r;
    },
    accept(chunk) {
      switch (chunk.type) {
        case "response": {
          const t = responseText(chunk);
          const before = text.length;
          text += t;
          const skip = Math.max(0, seen.text - before);
          seen.text = Math.max(seen.text, text.length);
          if (skip >= t.length) return undefined;
          shown += skip === 0 ? t : t.slice(skip);
          return skip === 0 ? chunk : { type: "response", data: t.slice(skip) };
        }
        case "tool_call":
          toolCalls.push(chunk.data);
          if (toolCalls.length <= seen.toolCalls) return undefined;
          seen.toolCalls = toolCalls.length;
          return chunk;
        case "tool_result":
          toolResults++;
          if (toolResults <= seen.toolResults) return undefined;
          seen.toolResults = toolResults;
          return chunk;
        case "final":
          final = chunk.data;
          if (final.resumed_at !== undefined) resumed.push({ at: final.resumed_at, from: hostBefore, to: host });
          return chunk;
        default:
          return chunk;
      }
    },
    resumable() {
      return shown && seen.toolCalls + seen.toolResults === 0 ? shown : undefined;
    },
    result(attempts) {
      // A responder that is not Lyra's may end without a final chunk: say so rather than fail.
      const info: FinalInfo = final ?? {
        model: "unknown",
        backend: "unknown",
        host,
        role,
        usage: { prompt_tokens: 0, completion_tokens: 0 },
        timings: { total_ms: Date.now() - startedAt },
      };
      return {
        text,
        final: info,
        toolCalls,
        host: host || info.host,
        attempts,
        ...(route ? { route } : {}),
        ...(resumed.length ? { resumed } : {}),
      };
    },
  };
}
