/**
 * Collects a call's chunks across attempts. Each attempt's stream starts from the beginning (a
 * fresh replica re-runs the request; a replica that already runs it replays what it sent), so
 * what a streaming consumer already saw is skipped: the first N characters of response text and
 * the first N tool_call / tool_result chunks. This assumes a re-run produces the same output
 * (deterministic backends, or the de-duplicating replica); when a re-run differs, the consumer has
 * seen the dead attempt's prefix and the new attempt's remainder, while `result.text` is the new
 * attempt's complete text, which is the authoritative answer.
 */
import { responseText, type Chunk, type FinalInfo, type ToolCall } from "../../schemas/index.ts";
import type { RoleResult } from "./types.ts";

export interface Collector {
  /** Starts an attempt: its text and events are counted from zero. */
  startAttempt(): void;
  /** Records a chunk; returns what the consumer should see (trimmed or none) . */
  accept(chunk: Chunk): Chunk | undefined;
  /** Sets the answering host (from the ack's Lyra-Host header) and the attempt's routing decision. */
  setHost(host: string, route?: string): void;
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

  return {
    startAttempt() {
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
          return chunk;
        default:
          return chunk;
      }
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
      return { text, final: info, toolCalls, host: host || info.host, attempts, ...(route ? { route } : {}) };
    },
  };
}
