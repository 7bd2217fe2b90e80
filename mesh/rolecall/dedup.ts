/** Completed answers kept for a while, so a re-issued request id is answered without re-running it. */
import type { Chunk, FinalInfo, ToolCall } from "../../schemas/index.ts";

export interface CompletedAnswer {
  text: string;
  final: FinalInfo;
  toolCalls: ToolCall[];
  /** The tool_call and tool_result chunks, in the order they were sent (replayed as they were); empty without tools. */
  toolEvents: Chunk[];
}

export interface AnswerCache {
  get(id: string): CompletedAnswer | undefined;
  set(id: string, answer: CompletedAnswer): void;
  readonly size: number;
}

/** A bounded map (oldest out first) whose entries expire after `windowMs`; default 1000 entries. */
export function createAnswerCache(windowMs: number, maxEntries = 1000, now = () => Date.now()): AnswerCache {
  const entries = new Map<string, { answer: CompletedAnswer; at: number }>();
  return {
    get(id) {
      const e = entries.get(id);
      if (!e) return undefined;
      if (now() - e.at > windowMs) {
        entries.delete(id);
        return undefined;
      }
      return e.answer;
    },
    set(id, answer) {
      entries.delete(id);
      entries.set(id, { answer, at: now() });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    get size() {
      return entries.size;
    },
  };
}
