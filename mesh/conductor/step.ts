/**
 * What each step of a turn does with the mesh: append its event to the conversation log (once,
 * by a deterministic message id), call its role (streaming text to the outbox, with the role's
 * fallback when no agent answers), and record a failed step.
 */
import { createHash } from "node:crypto";
import type { JetStreamClient, JetStreamManager, PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { Header, responseText, type InboxMessage, type LogEvent, type OutboxMessage, type RoleRequest } from "../../schemas/index.ts";
import { UnavailableError } from "../errors.ts";
import { encodeBody } from "../body.ts";
import { publishStoredBatch } from "../publish-stored.ts";
import { OnOutage } from "../rolecall/index.ts";
import { subjects } from "../subjects.ts";
import type { Mesh } from "../connect.ts";
import type { Logger } from "../logger.ts";
import { tracer } from "../telemetry.ts";
import type { CommitteeConfig, ConductorEvent, RoleCaller, RoleCallOptions, RoleResult, StepEvent } from "./types.ts";
import type { ToolEventSink } from "./toollog.ts";
import type { CallUsage } from "./budget.ts";
import type { Rollout } from "../rollout.ts";
import type { ShadowRunner } from "./shadow.ts";

export interface TurnDeps {
  mesh: Mesh;
  js: JetStreamClient;
  /** For the direct get of a re-run turn's stored reply. */
  jsm: JetStreamManager;
  log: Logger;
  roles: RoleCaller;
  /** Answers for a role no agent serves (the role's LiteLLM alias); optional. */
  fallback?: RoleCaller;
  committee: CommitteeConfig;
  /** Time allowed for each role call, ms. */
  stepTimeoutMs: number;
  /** Told of every event this turn appended to the conversation log, with its ack (the conductor's log cache). */
  logged?: (conversation: string, event: LogEvent, ack: PubAck) => void;
  /**
   * Whether the log stream takes atomic batches (nats-server 2.12+, `allow_atomic`): staged events
   * then go with the next append in one round trip. Turned off for good when the stream refuses one.
   */
  atomicLog?: { on: boolean };
  /** Steps and fallbacks, for metrics. */
  onEvent?: (e: ConductorEvent) => void;
  /** The variant of each role call, for roles with variants (rollout and A/B); none: every role as configured. */
  rollout?: Pick<Rollout, "pick">;
  /** Runs the shadow variants' calls in the background; none: no shadows. */
  shadows?: ShadowRunner;
}

/** The turn's trace: its span (a W3C traceparent) and the trace id that goes on every log line and log event. */
export interface TurnTrace {
  traceId: string;
  traceparent: string;
}

type Staged = { event: LogEvent; data: Uint8Array; headers: MsgHdrs; msgID: string };

/** Appends a step's staged events to the conversation's log as one batch (atomic while the stream allows it). */
async function storeStaged(deps: TurnDeps, conversation: string, all: Staged[], signal: AbortSignal): Promise<void> {
  if (!all.length) return;
  const atomic = deps.atomicLog?.on ?? false;
  const r = await publishStoredBatch(deps.js, deps.mesh.nc, subjects.log(conversation), all, { atomic, signal });
  if (atomic && !r.atomic && deps.atomicLog?.on) {
    deps.atomicLog.on = false;
    deps.log.warn("the log stream refuses atomic batches (allow_atomic is off): log events are stored one at a time");
  }
  all.forEach((s, i) => deps.logged?.(conversation, s.event, r.acks[i]!));
}

/** How a step's call streams: `true` streams its text to the outbox under the step's name. */
export interface CallStreaming {
  /** Names the call's partials and its metric stage (the segments of the voice are all "voice"); default the step. */
  as?: string;
  /** Text put before the call's first partial (the separator from the segment before); default none. */
  prefix?: string;
  /** Told of each new piece of streamed text, a re-issue's repeat skipped (the pipelined voice's segmenter). */
  onText?: (text: string) => void;
}

export interface TurnSteps {
  /**
   * Appends a step's event to the conversation log, after any staged ones (one atomic batch where the
   * stream allows it); `step` names it in the message id, so a re-run stores it once.
   */
  readonly append: (ev: StepEvent, step: string) => Promise<void>;
  /**
   * Stages an event to be stored with the next append, for events that come right before another
   * with nothing waited on between (so the log means the same). Staged events are lost if the turn
   * ends before the next append: stage only what a re-run would write again.
   */
  stage(ev: StepEvent, step: string): void;
  /** Stores the staged events, if any. */
  flush(): Promise<void>;
  /**
   * Calls a role, streaming its text to the outbox when `stream`, within the step's deadline
   * (stepTimeoutMs); `step` names its request id and its log events' ids.
   */
  call(role: string, step: string, req: RoleRequest, stream: boolean | CallStreaming, onTool?: ToolEventSink): Promise<RoleResult>;
  /** Logs a failed step and remembers it for the reply's error; rethrows when the turn is being abandoned. */
  fail(step: string, role: string, err: unknown): Promise<void>;
  /** The failed steps so far, "role (message)". */
  readonly failed: readonly string[];
  /** The model calls this run of the turn made, for the user's budget (a re-run's reused steps are not in it). */
  readonly calls: readonly CallUsage[];
}

export function createTurnSteps(deps: TurnDeps, msg: InboxMessage, signal: AbortSignal, trace?: TurnTrace): TurnSteps {
  const traced = trace ? { trace_id: trace.traceId } : {};
  const turnKey = `${msg.channel}:${msg.id}`;
  let turnHash: string | undefined;
  const reqId = (step: string) => `t${(turnHash ??= createHash("sha1").update(turnKey).digest("hex").slice(0, 20))}-${step}`;
  const staged: Staged[] = [];
  const stage = (ev: StepEvent, step: string) => {
    const event = { ...ev, ts: Date.now(), conversation: msg.conversation, turn: msg.id, ...traced } as LogEvent;
    staged.push({ event, ...encodeBody(deps.mesh, event), msgID: `${turnKey}:${step}` });
  };
  const store = () => storeStaged(deps, msg.conversation, staged.splice(0), signal);
  const append = (ev: StepEvent, step: string) => {
    stage(ev, step);
    return store();
  };
  const partial = (step: string, role: string, text: string) => publishPartial(deps.mesh, msg, step, role, text);
  const fallbackDeps = { ...deps, signal, partial, stage };
  const failed: string[] = [];
  const calls: CallUsage[] = [];
  // The variant each step's call was given, for its error event.
  const picked = new Map<string, string>();
  return {
    append,
    stage,
    flush: store,
    failed,
    calls,
    async call(role, step, req, stream, onTool) {
      const stageName = (typeof stream === "object" && stream.as) || step;
      const span = tracer().start(`step ${stageName}`, trace?.traceparent, {
        kind: "client",
        attributes: { "lyra.step": step, "lyra.role": role },
      });
      const t0 = Date.now();
      const opts = {
        signal,
        timeoutMs: deps.stepTimeoutMs,
        requestId: reqId(step),
        conversation: msg.conversation,
        headers: { [Header.TraceParent]: span.traceparent },
      };
      const pick = deps.rollout?.pick(role, msg.conversation);
      if (pick) picked.set(step, pick.variant);
      try {
        // Every role of the turn is called for the message's user (the response cache keeps answers per user),
        // and bypasses the cache when the message asks.
        const forUser: RoleRequest = { user: msg.user.id, ...req, ...(msg.cache ? { cache: msg.cache } : {}) };
        const sent = pick ? { ...forUser, variant: pick.variant } : forUser;
        const primary = callRole(fallbackDeps, { role, step, req: sent, stream, onTool }, opts).then((r) => withVariant(r, role, pick));
        for (const variant of pick?.shadows ?? [])
          deps.shadows?.start({
            msg,
            role,
            step,
            variant,
            primaryVariant: pick!.variant,
            req: forUser,
            requestId: opts.requestId,
            primary,
            traced,
          });
        const r = await primary;
        calls.push({ model: r.final.model, tokensIn: r.final.usage.prompt_tokens, tokensOut: r.final.usage.completion_tokens });
        span.end();
        deps.log.info(
          { step, role, variant: pick?.variant, host: r.host, backend: r.final.backend, ms: Date.now() - t0 },
          "committee step done",
        );
        deps.onEvent?.({ type: "step", step: stageName, role, ok: true, ms: Date.now() - t0 });
        if (pick) deps.onEvent?.({ type: "variant", role, variant: pick.variant, ok: true });
        return r;
      } catch (err) {
        span.end(err);
        deps.onEvent?.({ type: "step", step: stageName, role, ok: false, ms: Date.now() - t0 });
        if (pick) deps.onEvent?.({ type: "variant", role, variant: pick.variant, ok: false });
        throw err;
      }
    },
    async fail(step, role, err) {
      // A stopping conductor abandons the turn (it is redelivered and re-run): no failure reply.
      if (signal.aborted) throw err;
      failed.push(`${role} (${(err as Error).message})`);
      deps.log.error({ err, step, role }, "committee step failed");
      const variant = picked.get(step);
      await append(
        {
          type: "error",
          step,
          code: (err as { code?: string }).code ?? "error",
          message: (err as Error).message,
          ...(variant ? { role, variant } : {}),
        },
        `${step}-error`,
      );
    },
  };
}

/** A step's partial output on the outbox's live subject (core NATS: not stored). */
function publishPartial(mesh: Mesh, msg: InboxMessage, step: string, role: string, text: string): void {
  const body: OutboxMessage = {
    conversation: msg.conversation,
    channel: msg.channel,
    in_reply_to: msg.id,
    text,
    final: false,
    step,
    role,
    ts: Date.now(),
  };
  const { data, headers } = encodeBody(mesh, body);
  mesh.nc.publish(subjects.outboxPartial(msg.channel, msg.conversation), data, { headers });
}

interface StepCall {
  role: string;
  step: string;
  req: RoleRequest;
  stream: boolean | CallStreaming;
  onTool?: ToolEventSink | undefined;
}

interface CallRoleDeps {
  roles: RoleCaller;
  fallback?: RoleCaller;
  log: Logger;
  stepTimeoutMs: number;
  signal: AbortSignal;
  onEvent?: (e: ConductorEvent) => void;
  partial(step: string, role: string, text: string): void;
  /** fallback_used is staged: the step's own event follows at once and stores both. */
  stage(ev: StepEvent, step: string): void;
}

/**
 * A role no agent serves goes to its fallback at once (no responders is known at once), and so
 * does one whose replicas stay silent for maxAttempts re-issues; without a fallback for the
 * role, or when the fallback fails too, the outage is waited out until the step's deadline, so
 * an agent restarting or frozen for a few seconds still answers the turn.
 */
async function callRole(d: CallRoleDeps, c: StepCall, opts: RoleCallOptions): Promise<RoleResult> {
  const { role, step, req, onTool } = c;
  const deadline = Date.now() + (opts.timeoutMs ?? d.stepTimeoutMs);
  const text = streamedText(c, (st, r, t) => d.partial(st, r, t));
  const consume = async (caller: RoleCaller, o: RoleCallOptions) => {
    const s = caller.stream(role, req, o);
    text.restart();
    for await (const ch of s) {
      if (ch.type === "response") text.add(responseText(ch));
      else if (onTool && (ch.type === "tool_call" || ch.type === "tool_result")) await onTool(ch);
    }
    return s.result;
  };
  const waitForAgents = () => consume(d.roles, { ...opts, onOutage: OnOutage.Wait, timeoutMs: Math.max(1, deadline - Date.now()) });
  const fallback = d.fallback && (d.fallback.serves?.(role) ?? true) ? d.fallback : undefined;
  if (!fallback) return waitForAgents();
  let reason: string;
  try {
    return await consume(d.roles, { ...opts, onOutage: OnOutage.Fail });
  } catch (err) {
    if (!(err instanceof UnavailableError) || d.signal.aborted) throw err;
    reason = err.message;
    d.log.warn({ role, err }, "no agent answers the role; using its fallback");
  }
  try {
    const r = await consume(fallback, opts);
    d.onEvent?.({ type: "fallback", role });
    d.stage({ type: "fallback_used", role, reason, backend: r.final.backend }, `${step}-fallback`);
    return r;
  } catch (err) {
    if (d.signal.aborted) throw err;
    d.log.warn({ role, err }, "the role's fallback failed too; waiting for an agent to serve it until the step's deadline");
    return waitForAgents();
  }
}

/**
 * A step's streamed text across the calls of one step (the agents, then the fallback, then the
 * agents again): each call's stream starts from the beginning, so the characters already seen
 * are skipped (the role client does the same across the re-issues of one call).
 */
function streamedText(c: StepCall, partial: CallRoleDeps["partial"]) {
  const o = typeof c.stream === "object" ? c.stream : {};
  let seen = 0;
  let got = 0;
  let prefix = o.prefix ?? "";
  return {
    restart: () => void (got = 0),
    add(t: string) {
      const skip = Math.max(0, seen - got);
      got += t.length;
      if (skip >= t.length) return;
      const fresh = t.slice(skip);
      seen = got;
      o.onText?.(fresh);
      if (!c.stream) return;
      partial(o.as ?? c.step, c.role, prefix + fresh);
      prefix = "";
    },
  };
}

/**
 * A call of a role with variants says which variant the conversation was given, also when the
 * answer came from a fallback (which knows no variants), so `lyra compare` counts it there.
 */
function withVariant(r: RoleResult, role: string, pick: { variant: string } | undefined): RoleResult {
  if (!pick) return r;
  return { ...r, final: { ...r.final, role: r.final.role ?? role, variant: r.final.variant ?? pick.variant } };
}

/** What a log event says of the role call that made it, for `user`'s turn: where, what, and its usage. */
export function stepMeta(r: RoleResult, user?: string) {
  const f = r.final;
  const u = f.usage;
  return {
    host: r.host,
    ...(r.route ? { route: r.route } : {}),
    ...(r.resumed ? { resumed: r.resumed } : {}),
    backend: f.backend,
    model: f.model,
    tokens: u.completion_tokens,
    tokens_in: u.prompt_tokens,
    tokens_out: u.completion_tokens,
    ...(u.estimated ? { tokens_estimated: true } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(f.role ? { role: f.role } : {}),
    latency_ms: f.timings.total_ms,
    ...(f.cache ? { cache: f.cache } : {}),
    ...(f.cache_similarity !== undefined ? { cache_similarity: f.cache_similarity } : {}),
    ...(f.variant ? { variant: f.variant } : {}),
    ...(f.variant && f.timings.first_token_ms !== undefined ? { first_token_ms: f.timings.first_token_ms } : {}),
    ...(f.fallback ? { fallback: f.fallback.reason } : {}),
  };
}
