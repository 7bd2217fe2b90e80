/**
 * The life of an admitted request, as the responder's admission hooks: its run (the handler in a
 * span of the caller's trace) and the events and cache entry its start, end or stop makes.
 */
import { CallCode, Header } from "../../schemas/index.ts";
import type { Logger } from "../logger.ts";
import { tracer } from "../telemetry.ts";
import type { AdmissionHooks } from "./admission.ts";
import type { AnswerCache } from "./dedup.ts";
import { runJob, StopReason, type Job, type JobOutcome } from "./job.ts";
import type { ResponderEvent, RoleHandler } from "./types.ts";

/** The responder's events listener, never throwing. */
export type Emit = (e: ResponderEvent) => void;

/** What happens to an admitted request: its run, and the events and cache entry its end makes. */
export function requestHooks(
  role: string,
  host: string,
  handler: RoleHandler,
  answers: AnswerCache,
  emit: Emit,
  log: Logger,
): Omit<AdmissionHooks, "changed"> {
  return {
    run: (job) => runRequest(job, role, host, handler, log),
    accepted: (job, queued) => emit({ type: "accepted", requestId: job.inbound.id, queued }),
    ended(job, outcome, durationMs) {
      const requestId = job.inbound.id;
      if (outcome.type === "completed") {
        answers.set(requestId, { answer: outcome.answer, claim: job.inbound.claim });
        emit({ type: "completed", requestId, durationMs, firstChunkMs: job.firstChunkAt && job.firstChunkAt - job.acceptedAt });
      } else if (outcome.type === "failed") {
        log.warn({ request: requestId, code: outcome.code, error: outcome.message }, "handler failed");
        emit({ type: "failed", requestId, code: outcome.code });
      }
    },
    stopped(job, reason) {
      const requestId = job.inbound.id;
      if (reason === StopReason.Cancelled) emit({ type: "cancelled", requestId });
      else emit({ type: "failed", requestId, code: reason === StopReason.Deadline ? CallCode.Timeout : CallCode.Unavailable });
    },
  };
}

/** The per-request run: the handler inside a span of the caller's trace, with its own logger. */
async function runRequest(job: Job, role: string, host: string, handler: RoleHandler, log: Logger): Promise<JobOutcome> {
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
  const outcome = await runJob(job, handler, ctx, host, role);
  const failed = outcome.type === "failed" ? `${outcome.code} ${outcome.message}` : outcome.type === "stopped" ? outcome.reason : undefined;
  span.end(failed);
  jobLog.info({ outcome: outcome.type, ms: Date.now() - job.acceptedAt }, "role request ended");
  return outcome;
}
