/**
 * Completed answers kept for a while, so a re-issued request id is answered without re-running it.
 * Each answer is kept with the claim of the request that made it (claim.ts): only a request with
 * the same claim is answered from here.
 */
import type { Chunk, FinalInfo, ToolCall } from "../../schemas/index.ts";
import type { RequestClaim } from "./claim.ts";

export interface CompletedAnswer {
  text: string;
  final: FinalInfo;
  toolCalls: ToolCall[];
  /** The tool_call and tool_result chunks, in the order they were sent (replayed as they were); empty without tools. */
  toolEvents: Chunk[];
}

export interface StoredAnswer {
  readonly answer: CompletedAnswer;
  /** Who asked what: a request with another claim is refused, never answered with this. */
  readonly claim: RequestClaim;
}

export interface AnswerCache {
  get(id: string): StoredAnswer | undefined;
  set(id: string, stored: StoredAnswer): void;
  readonly size: number;
}

/** A bounded map (oldest out first) whose entries expire after `windowMs`; default 1000 entries. */
export function createAnswerCache(windowMs: number, maxEntries = 1000, now = () => Date.now()): AnswerCache {
  const entries = new Map<string, { stored: StoredAnswer; at: number }>();
  return {
    get(id) {
      const e = entries.get(id);
      if (!e) return undefined;
      if (now() - e.at > windowMs) {
        entries.delete(id);
        return undefined;
      }
      return e.stored;
    },
    set(id, stored) {
      entries.delete(id);
      entries.set(id, { stored, at: now() });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    get size() {
      return entries.size;
    },
  };
}
