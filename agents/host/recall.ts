/**
 * Auto-recall (`memory.auto_recall` in the mesh config): before a specialist granted the memory
 * server's `recall` answers, its agent recalls the memories relevant to the user's message and puts
 * them in the model's context. It runs here, not in the conductor, because the agent already holds
 * the tool plane and the grants (mesh/ must not depend on tools/); the call and its result stream
 * back as `tool_call` / `tool_result` chunks, so the conductor logs the recall as a step.
 */
import type { ChatMessage, Chunk } from "../../schemas/index.ts";
import { grantAllows } from "../../tools/caller.ts";
import type { CallScope, ToolPlane } from "./tools.ts";

/** Longest query sent to recall (the memory server refuses longer ones), characters. */
const MAX_RECALL_QUERY_CHARS = 2_000;
/** The id of the recall call in the chunks and the log. */
export const AUTO_RECALL_CALL_ID = "auto-recall";

export interface AutoRecallOptions {
  /** The memory tool server's name (memory.server; default "memory"). */
  server: string;
  /** Memories recalled (memory.top_k). */
  topK: number;
}

export interface Recalled {
  /** The tool_call and tool_result chunks to stream (empty when no recall ran). */
  chunks: Chunk[];
  /** The system message holding the memories, when there were any. */
  message?: ChatMessage;
}

export async function autoRecall(
  o: AutoRecallOptions & { role: string; host: string; plane: ToolPlane; grants: readonly string[]; timeoutMs: number; scope: CallScope },
  messages: readonly ChatMessage[],
  signal: AbortSignal,
): Promise<Recalled> {
  const last = messages.findLast((m) => m.role === "user");
  const query = typeof last?.content === "string" ? last.content.trim().slice(0, MAX_RECALL_QUERY_CHARS) : "";
  // No user: the memory server could not scope the call, so none is made.
  if (!query || !o.scope.user || !grantAllows(o.grants, o.server, "recall")) return { chunks: [] };
  const call = { id: AUTO_RECALL_CALL_ID, name: `${o.server}__recall`, arguments: { query, limit: o.topK } };
  const t0 = performance.now();
  const r = await o.plane.call(o.role, o.grants, call, { signal, timeoutMs: o.timeoutMs, scope: o.scope });
  const where = { server: o.server, tool: "recall", host: o.host };
  const chunks: Chunk[] = [
    { type: "tool_call", data: { ...call, ...where } },
    {
      type: "tool_result",
      data: {
        id: call.id,
        name: call.name,
        content: r.text,
        is_error: r.isError,
        status: r.status,
        latency_ms: Math.round(performance.now() - t0),
        ...(r.cached ? { cached: true } : {}),
        ...where,
      },
    },
  ];
  if (r.isError || !/#\d+/.test(r.text)) return { chunks };
  return {
    chunks,
    message: {
      role: "system",
      content: `Memories of this user that may help (recalled automatically from earlier conversations):\n${r.text}`,
    },
  };
}
