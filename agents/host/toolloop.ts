/**
 * A specialist's tool loop: model → tool calls (run in parallel) → results as `tool` messages →
 * model again, at most `maxSteps` rounds with tools. At the bound the model is asked once more,
 * without tools, to answer with what it has, so the caller always gets an answer. Every call and
 * result streams to the caller as a `tool_call` / `tool_result` chunk as it happens.
 */
import type { ChatMessage, Chunk, ToolCall, Usage } from "../../schemas/index.ts";
import type { Logger } from "../../mesh/index.ts";
// lazy: backends/index.ts would load the openai and ollama clients at once; an agent host loads them only when used (lazy.ts)
import { since } from "../backends/abort.ts";
import type { FinalModelChunk, ModelBackend, ModelRequest } from "../backends/index.ts";
import { errorOutcome, ToolStatus, type ToolOutcome } from "./toolcontent.ts";
import type { CallScope, ToolOffer, ToolPlane } from "./tools.ts";
import { splitToolName } from "../../tools/caller.ts";

export interface ToolLoopOptions {
  role: string;
  host: string;
  backend: ModelBackend;
  plane: ToolPlane;
  /** The role's grants (`server.tool`, `server.*`). */
  grants: readonly string[];
  /** Rounds with tools per answer (roles.<r>.max_tool_steps). */
  maxSteps: number;
  /** Per-call limit, ms (roles.<r>.tool_timeout_ms). */
  toolTimeoutMs: number;
  firstTokenTimeoutMs?: number;
  /** The request's user and conversation, passed to every tool call's `_meta`. */
  scope?: CallScope;
  log: Logger;
  /**
   * Every finished call (metrics). `server` and `tool` are those of an offered tool, else `_other`:
   * names the model invents (refused, unknown) must not grow the label set.
   */
  onResult?: (r: { server: string; tool: string; status: string; latencyMs: number }) => void;
}

/** What the loop yields: wire chunks as they happen, then the answer's merged final. */
export type LoopOutput = { kind: "chunk"; chunk: Chunk } | { kind: "final"; final: FinalModelChunk };

/** The metric label of a server or tool the model named but was not offered (as tools/metrics.ts labels unknown tools). */
const OTHER_LABEL = "_other";

export const budgetNote = (steps: number) =>
  `You have used all ${steps} tool steps allowed for this answer. Answer the user now with what you have; do not call tools.`;

export async function* toolLoop(o: ToolLoopOptions, base: ModelRequest, signal: AbortSignal): AsyncGenerator<LoopOutput> {
  const started = performance.now();
  const offer = await o.plane.offer(o.role, o.grants);
  const messages: ChatMessage[] = [...base.messages];
  const usage: Usage = { prompt_tokens: 0, completion_tokens: 0 };
  let promptEvalMs: number | undefined;
  const ids = new Set<string>();
  let firstTokenMs: number | undefined;
  let last: FinalModelChunk | undefined;
  for (let step = 0; ; step++) {
    const withTools = step < o.maxSteps && offer.specs.length > 0;
    if (!withTools && step > 0) messages.push({ role: "system", content: budgetNote(o.maxSteps) });
    let text = "";
    const calls: ToolCall[] = [];
    const req: ModelRequest = { ...base, messages: [...messages], tools: withTools ? offer.specs : undefined };
    for await (const c of o.backend.chat(req, { signal, firstTokenTimeoutMs: o.firstTokenTimeoutMs })) {
      if (c.type === "delta") {
        firstTokenMs ??= since(started);
        text += c.text;
        yield { kind: "chunk", chunk: { type: "response", data: c.text } };
      } else if (c.type === "tool_call") calls.push(uniqueId(c.call, ids, step));
      else {
        last = c;
        usage.prompt_tokens += c.usage.prompt_tokens;
        usage.completion_tokens += c.usage.completion_tokens;
        if (c.usage.estimated) usage.estimated = true;
        if (c.timings.prompt_eval_ms !== undefined) promptEvalMs = (promptEvalMs ?? 0) + c.timings.prompt_eval_ms;
      }
    }
    if (calls.length && !withTools)
      o.log.warn(
        { step, calls: calls.map((c) => c.name) },
        "model called tools after its tool budget (or with none offered); calls ignored",
      );
    if (!calls.length || !withTools) break;

    messages.push({ role: "assistant", content: text, tool_calls: calls });
    for (const call of calls) {
      const where = offer.names.get(call.name) ?? splitToolName(call.name);
      yield { kind: "chunk", chunk: { type: "tool_call", data: { ...call, ...(where ?? {}), host: o.host } } };
    }
    const results: ToolOutcome[] = [];
    for await (const { i, r, ms } of runParallel(o, calls, offer.names, signal)) {
      results[i] = r;
      const call = calls[i]!;
      const offered = offer.names.get(call.name);
      o.onResult?.({ server: offered?.server ?? OTHER_LABEL, tool: offered?.tool ?? OTHER_LABEL, status: r.status, latencyMs: ms });
      const data = {
        id: call.id,
        name: call.name,
        content: r.text,
        is_error: r.isError,
        status: r.status,
        latency_ms: ms,
        host: o.host,
        ...(r.server ? { server: r.server, tool: r.tool } : {}),
        ...(r.media ? { media: r.media } : {}),
        ...(r.cached ? { cached: true } : {}),
      };
      yield { kind: "chunk", chunk: { type: "tool_result", data } };
    }
    calls.forEach((call, i) => messages.push({ role: "tool", content: results[i]!.text, tool_call_id: call.id, tool_name: call.name }));
  }
  if (!last) return;
  const timings = {
    ...last.timings,
    total_ms: since(started),
    ...(firstTokenMs !== undefined ? { first_token_ms: firstTokenMs } : {}),
    ...(promptEvalMs !== undefined ? { prompt_eval_ms: promptEvalMs } : {}),
  };
  yield { kind: "final", final: { ...last, usage, timings } };
}

type Done = { i: number; r: ToolOutcome & { server?: string; tool?: string }; ms: number };

/** Runs every call at once; yields each result as it finishes. */
async function* runParallel(o: ToolLoopOptions, calls: ToolCall[], names: ToolOffer["names"], signal: AbortSignal): AsyncGenerator<Done> {
  const pending = new Map<number, Promise<Done>>();
  calls.forEach((call, i) => {
    const t0 = performance.now();
    const run = o.plane
      .call(o.role, o.grants, call, { names, signal, timeoutMs: o.toolTimeoutMs, scope: o.scope })
      .catch((err: unknown) => errorOutcome(ToolStatus.Error, `tool '${call.name}' failed: ${(err as Error).message}`))
      .then((r) => ({ i, r, ms: Math.round(since(t0)) }));
    pending.set(i, run);
  });
  while (pending.size) {
    const d = await Promise.race(pending.values());
    pending.delete(d.i);
    yield d;
  }
}

/** Call ids repeat across rounds (Ollama numbers them per answer); each must name one call of the turn. */
function uniqueId(call: ToolCall, ids: Set<string>, step: number): ToolCall {
  let id = call.id;
  for (let n = 1; ids.has(id); n++) id = `${call.id}_s${step}${n > 1 ? `_${n}` : ""}`;
  ids.add(id);
  return id === call.id ? call : { ...call, id };
}
