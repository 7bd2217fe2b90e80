/**
 * One turn of the committee: router → specialist → voice. Each step is logged with a
 * deterministic message id; a step already in the log (a re-run after a crash) is reused, so the
 * log and the outbox hold each step and the reply once.
 */
import { createHash } from "node:crypto";
import type { JetStreamClient, JetStreamManager, PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import {
  Header,
  OutboxMessage as OutboxSchema,
  RouterChoice,
  responseText,
  type ChatMessage,
  type InboxMessage,
  type LogEvent,
  type Media,
  type OutboxMessage,
  type RoleRequest,
} from "../../schemas/index.ts";
import { UnavailableError } from "../errors.ts";
import { decodeBody, encodeBody, publishStored } from "../publish.ts";
import { OnOutage } from "../rolecall/types.ts";
import { StreamName } from "../streams.ts";
import { subjects } from "../subjects.ts";
import type { Mesh } from "../connect.ts";
import type { Logger } from "../logger.ts";
import { tracer } from "../telemetry.ts";
import type { CommitteeConfig, ConductorEvent, RoleCaller, RoleCallOptions, RoleResult, StepEvent } from "./types.ts";
import { toolLogger, type ToolEventSink } from "./toollog.ts";

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
  /** Told of every event this turn appended to the conversation log (the conductor's log cache). */
  logged?: (conversation: string, body: { data: Uint8Array; headers: MsgHdrs }, ack: PubAck) => void;
  /** Steps and fallbacks, for metrics. */
  onEvent?: (e: ConductorEvent) => void;
}

/** The turn's trace: its span (a W3C traceparent) and the trace id that goes on every log line and log event. */
export interface TurnTrace {
  traceId: string;
  traceparent: string;
}

export interface TurnResult {
  reply: string;
  specialist: string;
  failed: string[];
}

export async function runTurn(
  deps: TurnDeps,
  msg: InboxMessage,
  prior: LogEvent[],
  history: ChatMessage[],
  signal: AbortSignal,
  trace?: TurnTrace,
): Promise<TurnResult> {
  const { committee } = deps;
  const traced = trace ? { trace_id: trace.traceId } : {};
  const turnKey = `${msg.channel}:${msg.id}`;
  const done = new Map(prior.filter((e) => e.turn === msg.id).map((e) => [e.type, e] as const));
  let turnHash: string | undefined;
  const reqId = (step: string) => `t${(turnHash ??= createHash("sha1").update(turnKey).digest("hex").slice(0, 20))}-${step}`;
  const append = async (ev: StepEvent, step: string) => {
    const full = { ...ev, ts: Date.now(), conversation: msg.conversation, turn: msg.id, ...traced } as LogEvent;
    const { data, headers } = encodeBody(deps.mesh, full);
    const ack = await publishStored(deps.js, subjects.log(msg.conversation), data, { msgID: `${turnKey}:${step}`, headers, signal });
    deps.logged?.(msg.conversation, { data, headers }, ack);
  };
  const partial = (step: string, role: string, text: string) => {
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
    const { data, headers } = encodeBody(deps.mesh, body);
    deps.mesh.nc.publish(subjects.outboxPartial(msg.channel, msg.conversation), data, { headers });
  };
  // Calls a role, streaming its text to the outbox, within the step's deadline (stepTimeoutMs).
  const call = async (role: string, step: string, req: RoleRequest, stream: boolean, onTool?: ToolEventSink): Promise<RoleResult> => {
    const span = tracer().start(`step ${step}`, trace?.traceparent, {
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
    try {
      const r = await callRole(role, step, req, stream, opts, onTool);
      span.end();
      deps.log.info({ step, role, host: r.host, backend: r.final.backend, ms: Date.now() - t0 }, "committee step done");
      deps.onEvent?.({ type: "step", step, role, ok: true, ms: Date.now() - t0 });
      return r;
    } catch (err) {
      span.end(err);
      deps.onEvent?.({ type: "step", step, role, ok: false, ms: Date.now() - t0 });
      throw err;
    }
  };
  /**
   * A role no agent serves goes to its fallback at once (no responders is known at once), and so
   * does one whose replicas stay silent for maxAttempts re-issues; without a fallback for the
   * role, or when the fallback fails too, the outage is waited out until the step's deadline, so
   * an agent restarting or frozen for a few seconds still answers the turn.
   */
  const callRole = async (
    role: string,
    step: string,
    req: RoleRequest,
    stream: boolean,
    opts: RoleCallOptions,
    onTool?: ToolEventSink,
  ): Promise<RoleResult> => {
    const deadline = Date.now() + (opts.timeoutMs ?? deps.stepTimeoutMs);
    const consume = async (caller: RoleCaller, o: RoleCallOptions) => {
      const s = caller.stream(role, req, o);
      for await (const c of s) {
        if (stream && c.type === "response") partial(step, role, responseText(c));
        else if (onTool && (c.type === "tool_call" || c.type === "tool_result")) await onTool(c);
      }
      return s.result;
    };
    const waitForAgents = () => consume(deps.roles, { ...opts, onOutage: OnOutage.Wait, timeoutMs: Math.max(1, deadline - Date.now()) });
    const fallback = deps.fallback && (deps.fallback.serves?.(role) ?? true) ? deps.fallback : undefined;
    if (!fallback) return waitForAgents();
    let reason: string;
    try {
      return await consume(deps.roles, { ...opts, onOutage: OnOutage.Fail });
    } catch (err) {
      if (!(err instanceof UnavailableError) || signal.aborted) throw err;
      reason = err.message;
      deps.log.warn({ role, err }, "no agent answers the role; using its fallback");
    }
    try {
      const r = await consume(fallback, opts);
      deps.onEvent?.({ type: "fallback", role });
      await append({ type: "fallback_used", role, reason, backend: r.final.backend }, `${step}-fallback`);
      return r;
    } catch (err) {
      if (signal.aborted) throw err;
      deps.log.warn({ role, err }, "the role's fallback failed too; waiting for an agent to serve it until the step's deadline");
      return waitForAgents();
    }
  };
  const meta = (r: RoleResult) => ({
    host: r.host,
    ...(r.route ? { route: r.route } : {}),
    backend: r.final.backend,
    model: r.final.model,
    tokens: r.final.usage.completion_tokens,
    latency_ms: r.final.timings.total_ms,
  });
  const failed: string[] = [];
  const fail = async (step: string, role: string, err: unknown) => {
    // A stopping conductor abandons the turn (it is redelivered and re-run): no failure reply.
    if (signal.aborted) throw err;
    failed.push(`${role} (${(err as Error).message})`);
    deps.log.error({ err, step, role }, "committee step failed");
    await append(
      { type: "error", step, code: (err as { code?: string }).code ?? "error", message: (err as Error).message },
      `${step}-error`,
    );
  };

  await append(
    { type: "user_message", channel: msg.channel, user: msg.user, text: msg.text, ...(msg.media?.length ? { media: msg.media } : {}) },
    "user",
  );
  const userTurn: ChatMessage[] = [...history, { role: "user", content: msg.text }];
  // The specialist gets the user's media (references, not bytes); the router is told they are there.
  const images = (msg.media ?? []).filter((m) => m.kind === "image").length;
  const specialistTurn: ChatMessage[] = msg.media?.length ? [...history, { role: "user", content: msg.text, media: msg.media }] : userTurn;
  const routerTurn: ChatMessage[] = images
    ? [...history, { role: "user", content: `${msg.text}\n\n[The user attached ${images} image${images > 1 ? "s" : ""} to this message.]` }]
    : userTurn;
  // Media the specialist's tools produce (the artist's images, speech audio) go with the reply.
  // They go in the order the model called the tools: results arrive as each call finishes.
  const callOrder = new Map<string, number>();
  const order = (call: string) => callOrder.get(call) ?? callOrder.set(call, callOrder.size).get(call)!;
  const produced = new Map<string, { media: Media; at: number }>();
  const keep = (call: string, ms: readonly Media[] | undefined) =>
    ms?.forEach((m, i) => produced.size < 16 && produced.set(m.object ?? m.data ?? "", { media: m, at: order(call) * 1000 + i }));
  for (const e of prior) {
    if (e.turn !== msg.id) continue;
    if (e.type === "tool_call") order(e.call ?? "");
    else if (e.type === "tool_result") keep(e.call ?? "", e.media);
  }

  // 1. Router
  let specialist = committee.defaultSpecialist;
  const routed = done.get("routed");
  if (routed?.type === "routed") specialist = routed.specialist;
  else {
    let choice = { specialist, confidence: 0, reason: "router unavailable; default specialist" };
    try {
      const r = await call(committee.router, "router", { messages: routerTurn, conversation: msg.conversation }, false);
      const parsed = RouterChoice.safeParse(safeJson(r.text));
      if (parsed.success && committee.specialists.includes(parsed.data.specialist)) choice = parsed.data;
      else
        choice.reason = `router answer unusable (${parsed.success ? `unknown specialist '${parsed.data.specialist}'` : "off-schema"}); default specialist`;
      choice = seeing(choice, images, committee.vision);
      await append({ type: "routed", ...choice, ...meta(r) }, "routed");
    } catch (err) {
      await fail("router", committee.router, err);
      choice = seeing(choice, images, committee.vision);
      await append({ type: "routed", ...choice }, "routed");
    }
    specialist = choice.specialist;
  }

  // 2. Specialist
  let draft: string | undefined;
  const finished = done.get("specialist_finished");
  if (finished?.type === "specialist_finished") draft = finished.text;
  else {
    await append({ type: "specialist_started", specialist }, "specialist-started");
    try {
      const logTool = toolLogger(specialist, append);
      const onTool: ToolEventSink = async (c) => {
        if (c.type === "tool_call") order(c.data.id);
        else keep(c.data.id, c.data.media);
        await logTool(c);
      };
      const r = await call(
        specialist,
        "specialist",
        { messages: specialistTurn, conversation: msg.conversation, user: msg.user.id },
        true,
        onTool,
      );
      draft = r.text;
      await append({ type: "specialist_finished", specialist, text: draft, ...meta(r) }, "specialist-finished");
    } catch (err) {
      await fail("specialist", specialist, err);
    }
  }

  // 3. Voice
  let reply: string | undefined;
  const voiced = done.get("voice_reply");
  if (voiced?.type === "voice_reply") reply = voiced.text;
  else if (draft !== undefined) {
    const voiceReq: RoleRequest = {
      conversation: msg.conversation,
      messages: [
        ...userTurn,
        { role: "system", content: `The ${specialist} drafted the answer in the next message. Rewrite it in Lyra's voice for the user.` },
        { role: "user", content: draft },
      ],
    };
    try {
      const r = await call(committee.voice, "voice", voiceReq, true);
      reply = r.text;
      await append({ type: "voice_reply", text: reply, ...meta(r) }, "voice");
    } catch (err) {
      await fail("voice", committee.voice, err);
      reply = draft; // the specialist's answer is better than silence
      await append({ type: "voice_reply", text: reply, backend: "none (voice failed)" }, "voice");
    }
  }
  if (reply === undefined) {
    reply = `Sorry, I could not answer this time: ${failed.join("; ") || "no step produced a reply"}.`;
    await append({ type: "voice_reply", text: reply, backend: "none (committee failed)" }, "voice");
  }

  // 4. The final reply, published once. JetStream would de-duplicate a second publish of it, but a
  // core NATS subscriber of the outbox subject would see it again; so a re-run (steps of this turn
  // were in the log) first looks for the reply an earlier run stored.
  if (done.size && (await storedReply(deps.jsm, msg))) {
    deps.log.info("the reply of this turn is already stored; not published again");
    return { reply, specialist, failed };
  }
  const out: OutboxMessage = {
    conversation: msg.conversation,
    channel: msg.channel,
    in_reply_to: msg.id,
    text: reply,
    final: true,
    specialist,
    ts: Date.now(),
  };
  if (failed.length) out.error = failed.join("; ");
  if (produced.size) out.media = [...produced.values()].sort((a, b) => a.at - b.at).map((p) => p.media);
  const { data, headers } = encodeBody(deps.mesh, out, { [Header.Conversation]: msg.conversation });
  const ack = await publishStored(deps.js, subjects.outbox(msg.channel, msg.conversation), data, {
    msgID: `${turnKey}:reply`,
    headers,
    signal,
  });
  if (ack.duplicate)
    deps.log.warn("the reply was stored already (an earlier run's publish the lookup did not see); live subscribers saw it twice");
  return { reply, specialist, failed };
}

/**
 * Whether the outbox holds the final reply to `msg`: the last message on the conversation's outbox
 * subject answers it (a conversation's turns run in order, so a re-run turn's reply is the last one
 * stored, if it was). A failed lookup says no: the reply is published, and at worst seen twice.
 */
async function storedReply(jsm: JetStreamManager, msg: InboxMessage): Promise<boolean> {
  try {
    const last = await jsm.direct.getMessage(StreamName.Outbox, { last_by_subj: subjects.outbox(msg.channel, msg.conversation) });
    return !!last && decodeBody(OutboxSchema, { data: last.data, headers: last.header }, "stored reply").in_reply_to === msg.id;
  } catch {
    return false;
  }
}

/**
 * The vision rule: a message with an image goes to a specialist that sees images. When the router
 * chose one that cannot, the first vision specialist takes the turn and the reason says so.
 */
function seeing<C extends { specialist: string; reason: string }>(choice: C, images: number, vision: readonly string[] | undefined): C {
  if (!images || !vision?.length || vision.includes(choice.specialist)) return choice;
  return {
    ...choice,
    specialist: vision[0]!,
    reason: `${choice.reason}; the message carries an image and '${choice.specialist}' cannot see images, so '${vision[0]}' takes it`,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
