/**
 * What one turn cost and did, from the conversation log (the log, not the outbox, carries each
 * step's backend, model, completion tokens and the agent's wall time, from the role's final chunk):
 * `lyra ask` prints it under the reply, the demo after each turn.
 */
import type { LogEvent } from "../../schemas/index.ts";
import { AUTO_RECALL_CALL_ID } from "../host/index.ts";

export interface StepFigure {
  /** router, the specialist's name, or voice. */
  step: string;
  backend?: string;
  model?: string;
  /** Completion tokens the model generated (its final chunk's usage). */
  tokens?: number;
  /** The agent's wall time for the call (its final chunk's timings.total_ms), ms. */
  ms?: number;
  /** The response cache's outcome: "exact" or "semantic" when the step was answered from it. */
  cache?: string;
}

export interface ToolFigure {
  /** server.tool */
  name: string;
  /** ok, error, timeout, refused, … (from the tool_result), or "no result". */
  status: string;
  /** The result text, as logged. */
  outcome?: string;
  /** True for the agent's own memory recall before the specialist answers (memory.auto_recall). */
  auto: boolean;
}

export interface TurnSummary {
  steps: StepFigure[];
  tools: ToolFigure[];
  errors: string[];
}

/** The steps, tool calls and errors of turn `turn` (the inbox message id) in `events`. */
export function summarizeTurn(events: readonly LogEvent[], turn: string): TurnSummary {
  const out: TurnSummary = { steps: [], tools: [], errors: [] };
  const figure = (
    step: string,
    e: { backend?: string; model?: string; tokens?: number; latency_ms?: number; cache?: string },
  ): StepFigure => ({
    step,
    backend: e.backend,
    model: e.model,
    tokens: e.tokens,
    ms: e.latency_ms,
    ...(e.cache ? { cache: e.cache } : {}),
  });
  const results = new Map<string, Extract<LogEvent, { type: "tool_result" }>>();
  for (const e of events) if (e.turn === turn && e.type === "tool_result" && e.call) results.set(e.call, e);
  for (const e of events) {
    if (e.turn !== turn) continue;
    if (e.type === "routed") out.steps.push(figure("router", e));
    else if (e.type === "specialist_finished") out.steps.push(figure(e.specialist, e));
    else if (e.type === "voice_reply") out.steps.push(figure("voice", e));
    else if (e.type === "error") out.errors.push(`${e.step}: ${e.message}`);
    else if (e.type === "tool_call") {
      const r = e.call ? results.get(e.call) : undefined;
      out.tools.push({
        name: e.server ? `${e.server}.${e.tool}` : e.tool,
        status: r ? (r.status ?? (r.is_error ? "error" : "ok")) : "no result",
        outcome: r?.outcome,
        auto: e.call === AUTO_RECALL_CALL_ID,
      });
    }
  }
  return out;
}

/** Lines such as `  router      ollama/smollm2:135m   23 tokens   412 ms`, then a total. */
export function formatTurnSummary(s: TurnSummary): string[] {
  const lines = s.steps.map((f) => {
    const how = f.backend ? `${f.backend}${f.model ? `/${f.model}` : ""}` : "?";
    return (
      `  ${f.step.padEnd(12)} ${how.padEnd(24)} ${String(f.tokens ?? "?").padStart(4)} ` +
      `tokens ${String(f.ms === undefined ? "?" : Math.round(f.ms)).padStart(6)} ms` +
      (f.cache === "exact" || f.cache === "semantic" ? `  (cache hit, ${f.cache})` : "")
    );
  });
  const tokens = s.steps.reduce((n, f) => n + (f.tokens ?? 0), 0);
  const ms = s.steps.reduce((n, f) => n + (f.ms ?? 0), 0);
  lines.push(`  total        ${tokens} tokens generated, ${(ms / 1000).toFixed(1)} s in the models`);
  for (const t of s.tools) lines.push(`  tool         ${t.name}${t.auto ? " (auto-recall)" : ""}: ${t.status}`);
  if (s.tools.length === 0) lines.push("  tool         none called");
  for (const e of s.errors) lines.push(`  error        ${e}`);
  return lines;
}
