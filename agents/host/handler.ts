/**
 * Turns a role's configuration and a backend into a responder handler: the request's messages
 * get the role's system prompt and options; model chunks become wire chunks. The router answers
 * through its classifier when that is confident enough, else through schema-constrained output,
 * and falls to the default specialist when it cannot.
 */
import { z } from "zod";
import {
  requestMessages,
  RoleKind,
  RouterChoice,
  type Chunk,
  type FinalInfo,
  type RoleRequest,
  CallCode,
  type RoleConfig,
} from "../../schemas/index.ts";
import { roleCallError, type RoleContext, type RoleHandler } from "../../mesh/index.ts";
import { AgentError, BackendBusyError, BackendConfigError, BackendError } from "../errors.ts";
import type { FinalModelChunk, ModelBackend, ModelRequest } from "../backends/index.ts";
import { resolveMedia, type MediaAccess } from "./media.ts";
import { autoRecall, type AutoRecallOptions } from "./recall.ts";
import { toolLoop, type ToolLoopOptions } from "./toolloop.ts";
import type { Classification, RouterClassifier } from "./classifier.ts";
import type { SpecialistInfo } from "./specialists.ts";
import { variantsHandler } from "./variants.ts";
import type { ToolPlane } from "./tools.ts";

export interface RoleHandlerOptions {
  role: string;
  host: string;
  config: RoleConfig;
  backend: ModelBackend;
  /** For a router: the specialists it may choose from, with their descriptions and whether they see images. */
  specialists?: SpecialistInfo[];
  /** For a router: where an unusable answer goes (defaultSpecialistOf(config); a router needs one). */
  defaultSpecialist?: string;
  /** For a router with roles.<router>.classifier: tried first; it decides alone when confident enough. */
  classifier?: RouterClassifier;
  /** Called with every final chunk (metrics). */
  onFinal?: (f: FinalModelChunk) => void;
  /** The mesh's tools; a specialist with grants (`config.tools`) runs the tool loop through it. */
  tools?: ToolPlane;
  /** Every finished tool call (metrics). */
  onToolResult?: ToolLoopOptions["onResult"];
  /** memory.auto_recall: recall memories into a granted specialist's context before it answers. */
  autoRecall?: AutoRecallOptions;
  /** LYRA_MEDIA, for the media a request's messages carry (a vision role's images). */
  media?: MediaAccess;
  /** The variant this handler answers as (variants.ts); its final chunk names it. Default none. */
  variant?: string;
  /** A role with variants (config.variants): each variant's backend; with it the handler answers a request's `variant`. */
  variantBackends?: ReadonlyMap<string, ModelBackend>;
}

export function roleHandler(o: RoleHandlerOptions): RoleHandler {
  if (o.config.variants && o.variantBackends) return variantsHandler(o, o.variantBackends, plainHandler);
  return plainHandler(o);
}

function plainHandler(o: RoleHandlerOptions): RoleHandler {
  return o.config.kind === RoleKind.Router ? routerHandler(o) : generalHandler(o);
}

async function modelRequest(o: RoleHandlerOptions, req: RoleRequest, ctx: RoleContext, extraSystem?: string): Promise<ModelRequest> {
  const system = [o.config.system_prompt, extraSystem].filter(Boolean).join("\n\n");
  const messages = await resolveMedia(requestMessages(req), o.config.vision, o.media, ctx.log);
  return {
    model: o.config.model,
    messages: system ? [{ role: "system", content: system }, ...messages] : messages,
    format: req.format,
    keepAlive: o.config.keep_alive,
    toolMode: o.config.tool_mode,
    options: {
      temperature: o.config.temperature,
      ...req.options,
      // The role's max_tokens is a cap: a request may ask for fewer (the pipelined voice's pieces), not more.
      max_tokens: fewest(o.config.max_tokens, req.options?.max_tokens),
      // The role's, never the request's: another num_ctx makes Ollama reload the model.
      num_ctx: o.config.num_ctx,
    },
  };
}

function fewest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function finalChunk(o: RoleHandlerOptions, f: FinalModelChunk, resumedAt?: number): Chunk {
  o.onFinal?.(f);
  const data: FinalInfo = { model: f.model, backend: f.backend, host: o.host, role: o.role, usage: f.usage, timings: { ...f.timings } };
  if (f.fallback) data.fallback = f.fallback;
  if (f.done_reason) data.done_reason = f.done_reason;
  if (resumedAt !== undefined) data.resumed_at = resumedAt;
  if (o.variant) data.variant = o.variant;
  return { type: "final", data };
}

/** Stands for the tools the loop will offer, when asking whether a backend continues a tool request. */
const TOOLS_OFFERED = [{ name: "offered", description: "", parameters: { type: "object", properties: {} } }];

/**
 * A re-issued request's partial answer (`resume`), continued: the text is the model request's
 * final assistant message, and the stream starts with it, so this attempt's stream, like every
 * attempt's, starts from the beginning of the answer (the caller skips what it already showed).
 * Returns the text's length, or undefined when the backend cannot continue it (structured output,
 * an OpenAI-compatible backend, an Ollama template that closes every message): the answer is
 * then written afresh, as without `resume`.
 */
async function resumeInto(o: RoleHandlerOptions, req: RoleRequest, mreq: ModelRequest, withTools: boolean): Promise<number | undefined> {
  const text = req.resume?.text;
  if (!text || req.format || !o.backend.canContinue) return undefined;
  const asked: ModelRequest = { ...mreq, messages: [...mreq.messages, { role: "assistant", content: text }] };
  if (!(await o.backend.canContinue(withTools ? { ...asked, tools: TOOLS_OFFERED } : asked))) return undefined;
  mreq.messages = asked.messages;
  return text.length;
}

/** Backend errors become wire errors the caller can act on: 429 retry, 503 go elsewhere. */
function toWire(o: RoleHandlerOptions, err: unknown): unknown {
  if (err instanceof BackendBusyError)
    return roleCallError(CallCode.Busy, o.role, err.message, { error: err.code, message: err.message, retry_after_s: 1 });
  if (err instanceof BackendError)
    return roleCallError(CallCode.Unavailable, o.role, err.message, { error: err.code, message: err.message });
  if (err instanceof AgentError) return roleCallError(CallCode.Internal, o.role, err.message, { error: err.code, message: err.message });
  return err;
}

/** A specialist with tool grants and a tool plane runs the tool loop; other roles are never offered tools. */
function generalHandler(o: RoleHandlerOptions): RoleHandler {
  const plane = o.config.kind === RoleKind.Specialist && o.config.tools.length > 0 ? o.tools : undefined;
  if (plane) return toolHandler(o, plane);
  return async function* (req: RoleRequest, ctx: RoleContext) {
    try {
      const mreq = await modelRequest(o, req, ctx);
      const resumedAt = await resumeInto(o, req, mreq, false);
      if (resumedAt !== undefined) yield { type: "response", data: req.resume!.text };
      for await (const c of o.backend.chat(mreq, { signal: ctx.signal, firstTokenTimeoutMs: o.config.first_token_timeout_ms })) {
        if (c.type === "delta") yield { type: "response", data: c.text };
        else if (c.type === "tool_call") yield { type: "tool_call", data: c.call };
        else yield finalChunk(o, c, resumedAt);
      }
    } catch (err) {
      throw toWire(o, err);
    }
  };
}

function toolHandler(o: RoleHandlerOptions, plane: ToolPlane): RoleHandler {
  return async function* (req: RoleRequest, ctx: RoleContext) {
    const loop: ToolLoopOptions = {
      role: o.role,
      host: o.host,
      backend: o.backend,
      plane,
      grants: o.config.tools,
      maxSteps: o.config.max_tool_steps,
      toolTimeoutMs: o.config.tool_timeout_ms,
      firstTokenTimeoutMs: o.config.first_token_timeout_ms,
      scope: { user: req.user, conversation: req.conversation, traceparent: ctx.traceparent },
      log: ctx.log,
      onResult: o.onToolResult,
    };
    const mreq = await modelRequest(o, req, ctx);
    if (o.autoRecall) {
      const recalled = await autoRecall(
        { ...o.autoRecall, ...loop, timeoutMs: loop.toolTimeoutMs, scope: loop.scope! },
        mreq.messages,
        ctx.signal,
      );
      for (const c of recalled.chunks) yield c;
      // Just before the user's message, after the role's system prompt and the history.
      if (recalled.message)
        mreq.messages.splice(
          mreq.messages.findLastIndex((m) => m.role === "user"),
          0,
          recalled.message,
        );
    }
    try {
      const resumedAt = await resumeInto(o, req, mreq, true);
      if (resumedAt !== undefined) yield { type: "response", data: req.resume!.text };
      for await (const out of toolLoop(loop, mreq, ctx.signal))
        yield out.kind === "chunk" ? out.chunk : finalChunk(o, out.final, resumedAt);
    } catch (err) {
      throw toWire(o, err);
    }
  };
}

/** Longest router reason the schema allows (about 30 tokens). */
const ROUTER_REASON_CHARS = 120;

function routerHandler(o: RoleHandlerOptions): RoleHandler {
  const names = (o.specialists ?? []).map((s) => s.name);
  const fallbackChoice = o.defaultSpecialist;
  if (fallbackChoice === undefined)
    throw new BackendConfigError(
      `router '${o.role}' has no specialist to fall back to; define a role of kind 'specialist' (or set router.default_specialist)`,
    );
  // What the model writes: who decided is the handler's to say, not the model's.
  const schema = RouterChoice.pick({ confidence: true, reason: true }).extend({
    specialist: names.length ? z.enum(names as [string, ...string[]]) : z.string().min(1),
  });
  // The grammar Ollama builds from `format` bounds a string's length but not a number's range, and
  // a small model rambles: a bounded reason keeps the answer within a few dozen tokens, so it is
  // not cut off mid-JSON by max_tokens (SmolLM2 135M wrote reasons past 48 tokens, and confidence 107).
  const format = z.toJSONSchema(schema.extend({ reason: z.string().max(ROUTER_REASON_CHARS) })) as Record<string, unknown>;
  const menu = (o.specialists ?? [])
    .map((s) => `- ${s.name}: ${s.description ?? "(no description)"}${s.vision ? " (sees images)" : ""}`)
    .join("\n");
  const seeing = (o.specialists ?? []).some((s) => s.vision)
    ? "When the message carries an image, choose a specialist that sees images.\n"
    : "";
  const instructions =
    `Choose the specialist best suited to answer the user's last message.\nSpecialists:\n${menu}\n${seeing}` +
    'Answer only with JSON: {"specialist": <name>, "confidence": <0..1>, "reason": <one short sentence>}.';
  return async function* (req: RoleRequest, ctx: RoleContext) {
    const t0 = performance.now();
    const verdict = o.classifier ? await classifierVerdict(o.classifier, req, ctx) : undefined;
    if (verdict && verdict.confidence >= o.classifier!.threshold) {
      yield* classifierAnswer(o, o.classifier!, verdict, performance.now() - t0);
      return;
    }
    let text = "";
    let final: FinalModelChunk | undefined;
    try {
      const mreq = { ...(await modelRequest(o, req, ctx, instructions)), format };
      for await (const c of o.backend.chat(mreq, { signal: ctx.signal, firstTokenTimeoutMs: o.config.first_token_timeout_ms })) {
        if (c.type === "delta") text += c.text;
        else if (c.type === "final") final = c;
      }
    } catch (err) {
      throw toWire(o, err);
    }
    const choice = parseChoice(text, schema, fallbackChoice);
    if (choice.fallback) ctx.log.warn({ reason: choice.value.reason }, "router answer unusable; default specialist");
    const value: RouterChoice = {
      ...choice.value,
      ...(choice.fallback ? {} : { decided_by: "llm" as const }),
      ...(verdict ? { classifier_confidence: round3(verdict.confidence) } : {}),
    };
    yield { type: "response", data: JSON.stringify(value) };
    if (final) yield finalChunk(o, final);
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The last user message's text, as the router sees it (with the conductor's note of attached images). */
function lastUserText(req: RoleRequest): string {
  return requestMessages(req).findLast((m) => m.role === "user")?.content ?? "";
}

/** The classifier's choice, or undefined when it has none (an embedding failed: the LLM router decides). */
async function classifierVerdict(c: RouterClassifier, req: RoleRequest, ctx: RoleContext): Promise<Classification | undefined> {
  const v = await c.classify(lastUserText(req));
  if ("reason" in v) {
    ctx.log.warn({ reason: v.reason }, "router classifier unavailable; the LLM router decides");
    return undefined;
  }
  return v;
}

/** The answer when the classifier decides alone: the same RouterChoice JSON, and a final chunk naming the embedding model. */
function* classifierAnswer(o: RoleHandlerOptions, c: RouterClassifier, v: Classification, ms: number): Generator<Chunk> {
  const confidence = round3(v.confidence);
  const next = v.scores[1];
  const choice: RouterChoice = {
    specialist: v.specialist,
    confidence,
    reason:
      `classifier: nearest to ${v.specialist}'s examples (similarity ${v.scores[0]!.score.toFixed(2)}` +
      `${next ? `; next ${next.specialist} ${next.score.toFixed(2)}` : ""})`,
    decided_by: "classifier",
    classifier_confidence: confidence,
  };
  yield { type: "response", data: JSON.stringify(choice) };
  // Not through finalChunk: onFinal's metrics are the LLM's (a classifier answer says nothing of its model being loaded).
  const data: FinalInfo = {
    model: c.model,
    backend: "classifier",
    host: o.host,
    role: o.role,
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    timings: { total_ms: ms },
    ...(o.variant ? { variant: o.variant } : {}),
  };
  yield { type: "final", data };
}

/** What the LLM router writes: the choice without who decided. */
type ModelChoice = Omit<RouterChoice, "decided_by" | "classifier_confidence">;

function parseChoice(text: string, schema: z.ZodType<ModelChoice>, fallback: string): { value: ModelChoice; fallback: boolean } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {
      value: { specialist: fallback, confidence: 0, reason: `router answer was not JSON; default specialist '${fallback}'` },
      fallback: true,
    };
  }
  // Ollama's grammar enforces the schema's shape and enums but not number bounds: a small model
  // answers "confidence": 2. A confidence out of range is clamped, not a reason to ignore the choice.
  const c = (raw as { confidence?: unknown } | null)?.confidence;
  if (typeof c === "number" && Number.isFinite(c)) raw = { ...(raw as object), confidence: Math.min(1, Math.max(0, c)) };
  const r = schema.safeParse(raw);
  if (r.success) return { value: r.data, fallback: false };
  const issue = r.error.issues[0];
  const named = (raw as { specialist?: unknown } | null)?.specialist;
  const why =
    issue?.path[0] === "specialist" && typeof named === "string"
      ? `router named unknown specialist '${named}'`
      : `router answer off-schema (${issue?.path.join(".") || "answer"}: ${issue?.message ?? "invalid"})`;
  return { value: { specialist: fallback, confidence: 0, reason: `${why}; default specialist '${fallback}'` }, fallback: true };
}
