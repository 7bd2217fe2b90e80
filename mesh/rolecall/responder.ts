/**
 * Serves a role: admission (concurrency + small queue, 429 past it), de-duplication by request id,
 * deadlines, cancellation, keep-alives, and an orderly drain. The wire is the NATS Agent Protocol
 * 0.3 framing: an ack first, typed chunks, an empty terminator, micro error headers (§6, §9).
 */
import type { Msg } from "@nats-io/nats-core";
import { CallCode, Header, InvalidBodyError, REQUEST_ID_CONFLICT, SHUTTING_DOWN, Status, WireCode } from "../../schemas/index.ts";
import type { Mesh } from "../connect.ts";
import { MeshError } from "../errors.ts";
import { heartbeatBody, startHeartbeat, type HeartbeatOptions } from "../heartbeat.ts";
import { subjects } from "../subjects.ts";
import { tracer } from "../telemetry.ts";
import { startStateFeed, type StateFeed } from "./statefeed.ts";
import { claimConflict } from "./claim.ts";
import { createAnswerCache } from "./dedup.ts";
import { checkAttachments, parseInbound, replyEncodingOf, type Inbound } from "./inbound.ts";
import { createJob, joinJob, replayAnswer, runJob, stopJob, StopReason, type Job, type JobOutcome } from "./job.ts";
import { addRoleService, PROMPT_ENDPOINT, PROTOCOL_VERSION, promptMetadata, type RequestIn } from "./service.ts";
import { createSink, replyError, type ReplySink } from "./sink.ts";
import { DEFAULT_CALL_TIMEOUT_MS, type ResponderEvent, type ResponderOptions, type RoleResponder } from "./types.ts";

/**
 * Streaming keep-alive period. The ack advertises it (Lyra-Keep-Alive) and callers presume the
 * replica dead after 4 periods of silence, so it bounds how fast a crash is noticed (about 1 s).
 */
export const DEFAULT_KEEP_ALIVE_MS = 250;

/** The heartbeat period (s) when none is given; the spec's recommended default (§8.2). */
export const DEFAULT_HEARTBEAT_S = 30;

/** How long stopped handlers get to notice their signal before closed() resolves anyway. */
const ABORT_SETTLE_MS = 1000;

export async function serveRole(mesh: Mesh, opts: ResponderOptions): Promise<RoleResponder> {
  const { role, host, handler } = opts;
  subjects.role(role); // validates the name before anything is registered
  const owner = opts.owner ?? "lyra";
  const concurrency = positiveInt("concurrency", opts.concurrency ?? 1, 1);
  const queueSize = positiveInt("queueSize", opts.queueSize ?? 4, 0);
  const keepAliveMs = positiveInt("keepAliveMs", opts.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS, 1);
  const graceMs = opts.graceMs ?? 10_000;
  const defaultTimeoutMs = opts.defaultTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const attachmentsOk = opts.attachments ?? false;
  const maxPayload = opts.maxPayload ?? mesh.maxPayload();
  const log = mesh.log.child({ component: "responder", role, host });
  const emit = (e: ResponderEvent) => {
    try {
      opts.events?.(e);
    } catch (err) {
      log.warn({ err }, "responder event listener threw");
    }
  };

  const jobs = new Map<string, Job>(); // queued or running, by request id: what a re-issue joins
  const queue: Job[] = [];
  let running = 0;
  let avgMs = 1000; // moving average of request time, for retry_after_s
  let ttftMs: number | undefined; // moving average of time to first chunk, for the state feed
  let feed: StateFeed | undefined;
  const answers = createAnswerCache(opts.dedupWindowMs ?? 60_000);
  let accepting = true;
  let idleWaiters: Array<() => void> = [];
  const checkIdle = () => {
    if (running > 0 || queue.length > 0) return;
    for (const w of idleWaiters) w();
    idleWaiters = [];
  };

  const onRequest = (msg: RequestIn) => {
    if (!accepting) {
      reject(msg, replyEncodingOf(msg), undefined, CallCode.Unavailable, `role '${role}' on ${host} is shutting down`, 1, SHUTTING_DOWN);
      return;
    }
    if (maxPayload > 0 && msg.data.length > maxPayload) {
      // §5.4: agents MAY enforce the advertised limit too (a smaller one than the server's).
      reject(
        msg,
        replyEncodingOf(msg),
        undefined,
        WireCode.BadRequest,
        `request is ${msg.data.length} bytes, over this role's max_payload of ${maxPayload} bytes`,
      );
      return;
    }
    let inb: Inbound;
    try {
      inb = parseInbound(msg, defaultTimeoutMs);
      checkAttachments(inb.req, attachmentsOk, role);
    } catch (err) {
      const message = err instanceof InvalidBodyError ? err.message : `invalid request: ${String(err)}`;
      reject(msg, replyEncodingOf(msg), undefined, WireCode.BadRequest, message);
      return;
    }
    if (!msg.reply) return; // a publish without a reply subject asks nothing
    if (inb.deadline <= Date.now()) {
      reject(msg, inb.encoding, inb.id, CallCode.Timeout, "deadline already passed; the work was dropped");
      return;
    }
    const live = jobs.get(inb.id);
    const done = live ? undefined : answers.get(inb.id);
    // A request id serves only the request that made it: another caller or another body is refused.
    const conflict = (live || done) && claimConflict(inb.id, live?.inbound.claim ?? done!.claim, inb.claim);
    if (conflict) {
      log.warn({ request: inb.id, caller: inb.claim.caller, live: live !== undefined }, "request id reused by another request; refused");
      reject(msg, inb.encoding, inb.id, WireCode.Conflict, conflict, undefined, REQUEST_ID_CONFLICT);
      return;
    }
    if (live) return joinJob(live, msg, inb.stream, inb.encoding);
    if (done) return replayAnswer(newSink(msg, inb), done.answer);
    if (running >= concurrency && queue.length >= queueSize) {
      const retryAfterS = Math.max(1, Math.ceil((avgMs * (running + queue.length)) / concurrency / 1000));
      reject(msg, inb.encoding, inb.id, WireCode.Busy, `role '${role}' on ${host} is busy`, retryAfterS);
      return;
    }
    admit(msg, inb);
  };

  /** Refuses a request before it is admitted: no ack (nothing was accepted), the error, the terminator. */
  const reject = (
    msg: RequestIn,
    enc: Inbound["encoding"],
    id: string | undefined,
    code: CallCode,
    text: string,
    retryAfterS?: number,
    error?: string,
  ) => {
    replyError(
      msg,
      enc,
      code,
      text,
      { ...(retryAfterS !== undefined ? { retry_after_s: retryAfterS } : {}), ...(error ? { error } : {}) },
      mesh.maxPayload(),
    );
    emit({ type: "rejected", requestId: id, code });
  };

  const newSink = (msg: RequestIn, inb: Inbound): ReplySink =>
    createSink(msg, {
      stream: inb.stream,
      encoding: inb.encoding,
      host,
      keepAliveMs,
      route: inb.headers?.get(Header.Route) || undefined,
      maxPayload: mesh.maxPayload(),
    });

  const admit = (msg: RequestIn, inb: Inbound) => {
    const job = createJob(inb, newSink(msg, inb));
    jobs.set(inb.id, job);
    // setTimeout overflows past 2^31 ms; a deadline that far away is as good as none.
    const wait = Math.min(inb.deadline - Date.now(), 2 ** 31 - 1);
    job.deadlineTimer = setTimeout(() => stop(job, StopReason.Deadline), wait);
    // Every admitted request, streamed or not, gets exactly one ack first (§6.4).
    job.sink.ack();
    emit({ type: "accepted", requestId: inb.id, queued: running >= concurrency });
    feed?.changed();
    if (running < concurrency) return start(job);
    queue.push(job);
    job.sink.keepAlive(Status.Queued);
    job.sink.send({ type: "status", data: Status.Queued });
  };

  const start = (job: Job) => {
    running++;
    const { id, conversation, deadline, stream } = job.inbound;
    // The caller's traceparent continues here: this request is a span of its trace.
    const span = tracer().start(`role ${role}`, job.inbound.headers?.get(Header.TraceParent), {
      kind: "server",
      attributes: { "lyra.role": role, "lyra.host": host, "lyra.request": id, "lyra.conversation": conversation },
    });
    const jobLog = log.child({ request: id, conversation, trace_id: span.traceId });
    const ctx = {
      requestId: id,
      conversation,
      deadline,
      stream,
      signal: job.ctrl.signal,
      log: jobLog,
      headers: job.inbound.headers,
      traceparent: span.traceparent,
    };
    void runJob(job, handler, ctx, host, role)
      .then((outcome) => {
        const failed =
          outcome.type === "failed" ? `${outcome.code} ${outcome.message}` : outcome.type === "stopped" ? outcome.reason : undefined;
        span.end(failed);
        jobLog.info({ outcome: outcome.type, ms: Date.now() - job.acceptedAt }, "role request ended");
        finished(job, outcome);
      })
      .catch((err: unknown) => log.error({ err }, "responder bookkeeping failed"));
  };

  const finished = (job: Job, outcome: JobOutcome) => {
    running--;
    if (jobs.get(job.inbound.id) === job) jobs.delete(job.inbound.id);
    const requestId = job.inbound.id;
    if (outcome.type === "completed") {
      const durationMs = Date.now() - job.acceptedAt;
      avgMs = avgMs * 0.8 + durationMs * 0.2;
      if (job.firstChunkAt)
        ttftMs = ttftMs === undefined ? job.firstChunkAt - job.acceptedAt : ttftMs * 0.8 + (job.firstChunkAt - job.acceptedAt) * 0.2;
      answers.set(requestId, { answer: outcome.answer, claim: job.inbound.claim });
      emit({ type: "completed", requestId, durationMs, firstChunkMs: job.firstChunkAt && job.firstChunkAt - job.acceptedAt });
    } else if (outcome.type === "failed") {
      log.warn({ request: requestId, code: outcome.code, error: outcome.message }, "handler failed");
      emit({ type: "failed", requestId, code: outcome.code });
    }
    while (running < concurrency && queue.length > 0) start(queue.shift()!);
    feed?.changed();
    checkIdle();
  };

  /** Stops a queued or running job from outside; a running one is accounted when its handler returns. */
  const stop = (job: Job, reason: StopReason) => {
    if (job.state === "done" || job.stopReason) return;
    const wasQueued = job.state === "queued";
    stopJob(job, reason);
    if (jobs.get(job.inbound.id) === job) jobs.delete(job.inbound.id);
    const requestId = job.inbound.id;
    if (reason === StopReason.Cancelled) emit({ type: "cancelled", requestId });
    else emit({ type: "failed", requestId, code: reason === StopReason.Deadline ? CallCode.Timeout : CallCode.Unavailable });
    if (wasQueued) {
      job.state = "done";
      queue.splice(queue.indexOf(job), 1);
      checkIdle();
    }
  };

  // Cancels go to every replica (no queue group): only the one running the request acts.
  const cancelPrefix = subjects.cancelAll.slice(0, -1);
  const cancelSub = mesh.nc.subscribe(subjects.cancelAll, {
    callback: (err, m) => {
      if (err) return;
      const job = jobs.get(m.subject.slice(cancelPrefix.length));
      if (job) stop(job, StopReason.Cancelled);
    },
  });
  const hbS = opts.heartbeatIntervalS ?? DEFAULT_HEARTBEAT_S;
  let serviceId = "";
  // One builder for heartbeats and status replies (§8.7.1): the spec's fields, then Lyra's extras.
  const beatOpts: HeartbeatOptions = {
    owner,
    role,
    get instanceId() {
      return serviceId;
    },
    // With heartbeats off (tests), a status reply still needs a positive interval (§8.3).
    intervalS: hbS > 0 ? hbS : DEFAULT_HEARTBEAT_S,
    extra: () => ({
      protocol_version: PROTOCOL_VERSION,
      endpoints: { [PROMPT_ENDPOINT]: { subject: subjects.agentPrompt(owner, role), metadata: promptMetadata(maxPayload, attachmentsOk) } },
      role,
      host,
      in_flight: running,
      queue_depth: queue.length,
    }),
  };
  let service: Awaited<ReturnType<typeof addRoleService>>;
  try {
    service = await addRoleService(mesh.nc, {
      role,
      host,
      owner,
      version: opts.version ?? "0.1.0",
      description: opts.description ?? `Lyra role '${role}' on ${host}`,
      metadata: opts.metadata ?? {},
      maxPayload,
      attachments: attachmentsOk,
      status: () => heartbeatBody(beatOpts),
      stats: () => ({ in_flight: running, queue_depth: queue.length, role, host, ...opts.stats?.() }),
      handler: (err, msg) => {
        if (err) log.error({ err }, "role endpoint failed");
        else onRequest(msg);
      },
    });
  } catch (err) {
    cancelSub.unsubscribe(); // nothing else was started
    throw err;
  }
  serviceId = service.info().id;
  // After registration, so a watcher that discovers from a beat finds the metadata (§8.2).
  const heartbeat = hbS > 0 ? startHeartbeat(mesh, beatOpts) : undefined;
  // Capacity-aware dispatch: this replica's own subject (no queue group: it alone listens), and
  // its state, from which callers choose it.
  const directSub = mesh.nc.subscribe(subjects.roleInstance(role, serviceId), {
    callback: (err, m) => {
      if (!err) onRequest(directRequest(m));
    },
  });
  const stateMs = opts.stateIntervalMs ?? 500;
  if (stateMs > 0) {
    feed = startStateFeed(mesh, role, serviceId, stateMs, () => {
      const c = opts.capacity?.() ?? { loaded: true, degraded: false };
      return {
        host,
        ...(c.model !== undefined ? { model: c.model } : {}),
        loaded: c.loaded,
        degraded: c.degraded || !accepting,
        slots: concurrency,
        in_flight: running,
        queue_depth: queue.length,
        queue_size: queueSize,
        ...(ttftMs !== undefined ? { ttft_ms: Math.round(ttftMs * 10) / 10 } : {}),
      };
    });
  }
  log.info({ subject: subjects.agentPrompt(owner, role), id: serviceId, concurrency, queueSize }, "serving role");

  let resolveClosed!: () => void;
  const closedP = new Promise<void>((r) => (resolveClosed = r));
  let stopping: Promise<void> | undefined;
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      checkIdle();
    });
  const abortAll = (reason: StopReason) => {
    accepting = false;
    for (const job of [...jobs.values()]) stop(job, reason);
  };
  const shutdown = (graceful: boolean, reason: StopReason) => {
    if (!graceful) abortAll(reason); // also cuts short a drain in progress
    return (stopping ??= (async () => {
      accepting = false;
      heartbeat?.stop();
      feed?.stop();
      if (!mesh.nc.isClosed()) directSub.unsubscribe();
      // Unregisters the endpoint and $SRV handlers (one round trip), so no new work arrives.
      await service.stop().catch(() => null);
      if (graceful) {
        await idle(graceMs);
        abortAll(reason);
      }
      await idle(ABORT_SETTLE_MS);
      if (!mesh.nc.isClosed()) cancelSub.unsubscribe();
      log.info({ id: serviceId }, "role stopped");
      resolveClosed();
    })());
  };
  void mesh.nc.closed().then(() => shutdown(false, StopReason.Closed));

  return {
    id: serviceId,
    role,
    inFlight: () => running,
    queueDepth: () => queue.length,
    drain: () => shutdown(true, StopReason.Shutdown),
    close: () => shutdown(false, StopReason.Shutdown),
    closed: () => closedP,
    [Symbol.asyncDispose]: () => shutdown(false, StopReason.Shutdown),
  };
}

/** A message on the replica's own subject, given the micro ServiceMsg shape the endpoints deliver. */
function directRequest(m: Msg): RequestIn {
  return {
    data: m.data,
    headers: m.headers,
    reply: m.reply,
    respond: (data, o) => m.respond(data, o),
    respondError: (code, description, data, o) => {
      o.headers.set(Header.ErrorCode, String(code));
      o.headers.set(Header.Error, description);
      return m.respond(data, o);
    },
  };
}

function positiveInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new MeshError("invalid_option", `responder option ${name}=${v} is invalid: use an integer >= ${min}`);
  }
  return v;
}
