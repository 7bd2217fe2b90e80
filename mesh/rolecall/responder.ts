/**
 * Serves a role: admission (concurrency + small queue, 429 past it), de-duplication by request id,
 * deadlines, cancellation, keep-alives, and an orderly drain. The wire is the NATS Agent Protocol
 * 0.3 framing: an ack first, typed chunks, an empty terminator, micro error headers (§6, §9).
 */
import type { Subscription } from "@nats-io/nats-core";
import { Header, REQUEST_ID_CONFLICT, WireCode } from "../../schemas/index.ts";
import type { Mesh } from "../connect.ts";
import { MeshCode, MeshError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { lifecycle, type Lifecycle } from "../lifecycle.ts";
import { parseCancelSubject, subjects } from "../subjects.ts";
import { createAdmission, type Admission } from "./admission.ts";
import { createAnswerCache, type AnswerCache } from "./dedup.ts";
import type { Inbound } from "./inbound.ts";
import { createJob, joinJob, replayAnswer, StopReason } from "./job.ts";
import { DEFAULT_HEARTBEAT_S, registerRole, type RegistrationOptions, type RoleLoad, type RoleRegistration } from "./registration.ts";
import { findRepeat } from "./repeat.ts";
import { requestHooks, type Emit } from "./request.ts";
import { screenRequest, type Refusal, type ScreenLimits } from "./screen.ts";
import type { RequestIn } from "./service.ts";
import { replyError } from "./reply.ts";
import { createSink, type ReplySink } from "./sink.ts";
import { DEFAULT_CALL_TIMEOUT_MS, type ResponderOptions, type RoleResponder } from "./types.ts";

/**
 * Streaming keep-alive period. The ack advertises it (Lyra-Keep-Alive) and callers presume the
 * replica dead after 4 periods of silence, so it bounds how fast a crash is noticed (about 1 s).
 */
export const DEFAULT_KEEP_ALIVE_MS = 250;

/** How long stopped handlers get to notice their signal before closed() resolves anyway. */
const ABORT_SETTLE_MS = 1000;

/** A responder's options with their defaults applied and checked. */
interface RoleConfig extends ScreenLimits, RegistrationOptions {
  concurrency: number;
  queueSize: number;
  keepAliveMs: number;
  graceMs: number;
  /** The micro service instance id, once registered (sent on the ack). */
  instance?: string;
  region?: string;
}

export async function serveRole(mesh: Mesh, opts: ResponderOptions): Promise<RoleResponder> {
  const cfg = roleConfig(mesh, opts);
  const { role, host } = cfg;
  const log = mesh.log.child({ component: "responder", role, host });
  const emit = listenerOf(opts.events, log);
  const answers = createAnswerCache(opts.dedupWindowMs ?? 60_000);
  let accepting = true;
  let reg: RoleRegistration | undefined;
  const admission = createAdmission(cfg.concurrency, cfg.queueSize, log, {
    ...requestHooks(role, host, opts.handler, answers, emit, log),
    changed: () => reg?.changed(),
  });
  const onRequest = (msg: RequestIn) => handleRequest(mesh, msg, cfg, accepting, admission, answers, emit, log);

  const cancelSub = subscribeCancels(mesh, admission);
  try {
    reg = await registerRole(
      mesh,
      cfg,
      roleLoad(cfg, opts, admission, () => accepting),
      onRequest,
      log,
    );
  } catch (err) {
    cancelSub.unsubscribe(); // nothing else was started
    throw err;
  }
  cfg.instance = reg.id;
  log.info(
    { subject: subjects.agentPrompt(cfg.owner, role), id: reg.id, concurrency: cfg.concurrency, queueSize: cfg.queueSize },
    "serving role",
  );

  const { connectionClosed, ...lc } = roleLifecycle(mesh, reg, admission, cancelSub, cfg.graceMs, () => (accepting = false), log);
  void mesh.nc.closed().then(connectionClosed);
  return {
    id: reg.id,
    role,
    inFlight: () => admission.running,
    queueDepth: () => admission.queued,
    ...lc,
  };
}

function roleConfig(mesh: Mesh, opts: ResponderOptions): RoleConfig {
  const { role, host } = opts;
  subjects.role(role); // validates the name before anything is registered
  const owner = opts.owner ?? "lyra";
  return {
    role,
    host,
    owner,
    concurrency: positiveInt("concurrency", opts.concurrency ?? 1, 1),
    queueSize: positiveInt("queueSize", opts.queueSize ?? 4, 0),
    keepAliveMs: positiveInt("keepAliveMs", opts.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS, 1),
    graceMs: opts.graceMs ?? 10_000,
    defaultTimeoutMs: opts.defaultTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    attachmentsOk: opts.attachments ?? false,
    maxPayload: opts.maxPayload ?? mesh.maxPayload(),
    version: opts.version ?? "0.1.0",
    description: opts.description ?? `Lyra role '${role}' on ${host}`,
    metadata: opts.metadata ?? {},
    heartbeatS: opts.heartbeatIntervalS ?? DEFAULT_HEARTBEAT_S,
    stateMs: opts.stateIntervalMs ?? 500,
    region: opts.region ?? mesh.region,
  };
}

/** The events listener, kept from breaking the responder when it throws. */
function listenerOf(events: ResponderOptions["events"], log: Logger): Emit {
  return (e) => {
    try {
      events?.(e);
    } catch (err) {
      log.warn({ err }, "responder event listener threw");
    }
  };
}

/** One request in: refused, joined to its live job, replayed from the cache, refused as busy, or admitted. */
function handleRequest(
  mesh: Mesh,
  msg: RequestIn,
  cfg: RoleConfig,
  accepting: boolean,
  admission: Admission,
  answers: AnswerCache,
  emit: Emit,
  log: Logger,
): void {
  const screened = screenRequest(msg, cfg, accepting);
  if (!screened) return;
  if ("refusal" in screened) return refuse(mesh, msg, screened.refusal, emit);
  const inb = screened.inbound;
  const repeat = findRepeat(inb, admission.live(inb.id), answers);
  if (repeat?.type === "conflict") {
    log.warn({ request: inb.id, caller: inb.claim.caller, live: repeat.live }, "request id reused by another request; refused");
    const refusal = { encoding: inb.encoding, id: inb.id, code: WireCode.Conflict, text: repeat.reason, error: REQUEST_ID_CONFLICT };
    return refuse(mesh, msg, refusal, emit);
  }
  if (repeat?.type === "join") return joinJob(repeat.job, msg, inb.stream, inb.encoding);
  if (repeat?.type === "replay") return replayAnswer(sinkFor(mesh, msg, inb, cfg), repeat.stored.answer);
  if (admission.full()) {
    const text = `role '${cfg.role}' on ${cfg.host} is busy`;
    return refuse(mesh, msg, { encoding: inb.encoding, id: inb.id, code: WireCode.Busy, text, retryAfterS: admission.retryAfterS() }, emit);
  }
  admission.admit(createJob(inb, sinkFor(mesh, msg, inb, cfg)));
}

/** Refuses a request before it is admitted: no ack (nothing was accepted), the error, the terminator. */
function refuse(mesh: Mesh, msg: RequestIn, r: Refusal, emit: Emit): void {
  const extra = { ...(r.retryAfterS !== undefined ? { retry_after_s: r.retryAfterS } : {}), ...(r.error ? { error: r.error } : {}) };
  replyError(msg, r.encoding, r.code, r.text, extra, mesh.maxPayload());
  emit({ type: "rejected", requestId: r.id, code: r.code });
}

function sinkFor(mesh: Mesh, msg: RequestIn, inb: Inbound, cfg: RoleConfig): ReplySink {
  return createSink(msg, {
    stream: inb.stream,
    encoding: inb.encoding,
    host: cfg.host,
    instance: cfg.instance,
    keepAliveMs: cfg.keepAliveMs,
    route: inb.headers?.get(Header.Route) || undefined,
    maxPayload: mesh.maxPayload(),
  });
}

/** What heartbeats, stats and the capacity state read of the role while it runs. */
function roleLoad(cfg: RoleConfig, opts: ResponderOptions, admission: Admission, accepting: () => boolean): RoleLoad {
  return {
    inFlight: () => admission.running,
    queueDepth: () => admission.queued,
    stats: () => opts.stats?.() ?? {},
    state: () => {
      const c = opts.capacity?.() ?? { loaded: true, degraded: false };
      const ttftMs = admission.ttftMs;
      return {
        host: cfg.host,
        ...(cfg.region !== undefined ? { region: cfg.region } : {}),
        ...(c.model !== undefined ? { model: c.model } : {}),
        loaded: c.loaded,
        degraded: c.degraded || !accepting(),
        slots: cfg.concurrency,
        in_flight: admission.running,
        queue_depth: admission.queued,
        queue_size: cfg.queueSize,
        ...(ttftMs !== undefined ? { ttft_ms: Math.round(ttftMs * 10) / 10 } : {}),
      };
    },
  };
}

/** Cancels go to every replica (no queue group): only the one running the request acts. */
function subscribeCancels(mesh: Mesh, admission: Admission): Subscription {
  return mesh.nc.subscribe(subjects.cancelAll, {
    callback: (err, m) => {
      if (err) return;
      const id = parseCancelSubject(m.subject);
      const job = id === undefined ? undefined : admission.live(id);
      if (job) admission.stop(job, StopReason.Cancelled);
    },
  });
}

/**
 * One stop for every way out (drain, close, dispose, the connection closing): stop taking work,
 * withdraw from the mesh, let work finish (drain) or abort it, then resolve closed().
 */
function roleLifecycle(
  mesh: Mesh,
  reg: RoleRegistration,
  admission: Admission,
  cancelSub: Subscription,
  graceMs: number,
  stopAccepting: () => void,
  log: Logger,
): Lifecycle & { connectionClosed: () => void } {
  let reason: StopReason = StopReason.Shutdown;
  const abortAll = () => {
    stopAccepting();
    admission.stopAll(reason);
  };
  const stop = async (graceful: boolean) => {
    stopAccepting();
    await reg.withdraw();
    if (graceful) {
      await admission.idle(graceMs);
      abortAll();
    }
    await admission.idle(ABORT_SETTLE_MS);
    if (!mesh.nc.isClosed()) cancelSub.unsubscribe();
    log.info({ id: reg.id }, "role stopped");
  };
  // cut: a close also cuts short a drain in progress.
  const lc = lifecycle({ cut: abortAll, drain: () => stop(true), close: () => stop(false) });
  return {
    ...lc,
    connectionClosed() {
      reason = StopReason.Closed;
      void lc.close();
    },
  };
}

function positiveInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new MeshError(MeshCode.InvalidOption, `responder option ${name}=${v} is invalid: use an integer >= ${min}`);
  }
  return v;
}
