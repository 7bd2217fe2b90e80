/** One admitted request: runs the handler and writes its output to the reply sink. */
import {
  CallCode,
  responseText,
  SHUTTING_DOWN,
  Status,
  type Chunk,
  type Encoding,
  type FinalInfo,
  type ToolCall,
} from "../../schemas/index.ts";
import { RoleCallError } from "../errors.ts";
import type { CompletedAnswer } from "./dedup.ts";
import type { Inbound } from "./inbound.ts";
import type { ReplyTarget } from "./reply.ts";
import type { ReplySink } from "./sink.ts";
import type { RoleContext, RoleHandler } from "./types.ts";

/** Why a job was stopped from outside. */
export const StopReason = { Cancelled: "cancelled", Deadline: "deadline", Shutdown: "shutdown", Closed: "closed" } as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

export type JobOutcome =
  | { type: "completed"; answer: CompletedAnswer }
  | { type: "failed"; code: CallCode; message: string }
  | { type: "stopped"; reason: StopReason };

export interface Job {
  readonly inbound: Inbound;
  readonly sink: ReplySink;
  readonly ctrl: AbortController;
  readonly acceptedAt: number;
  state: "queued" | "running" | "done";
  stopReason?: StopReason;
  /** Fires stopJob(Deadline); cleared when the job ends. */
  deadlineTimer?: NodeJS.Timeout;
  firstChunkAt?: number;
  text: string;
  toolCalls: ToolCall[];
  final?: FinalInfo;
  /** Content chunks sent so far, replayed when a re-issue joins this job. */
  history: Chunk[];
}

export function createJob(inbound: Inbound, sink: ReplySink): Job {
  return { inbound, sink, ctrl: new AbortController(), acceptedAt: Date.now(), state: "queued", text: "", toolCalls: [], history: [] };
}

/** Stops a job from outside: fires the handler's signal and tells the caller what it needs to know. */
export function stopJob(job: Job, reason: StopReason): void {
  if (job.state === "done" || job.stopReason) return;
  job.stopReason = reason;
  clearTimeout(job.deadlineTimer);
  job.ctrl.abort(new Error(`request ${job.inbound.id} stopped: ${reason}`));
  // A cancelled caller has gone and a closed connection cannot carry anything: send nothing.
  if (reason === StopReason.Deadline) job.sink.error(CallCode.Timeout, "deadline passed before the answer was complete");
  else if (reason === StopReason.Shutdown)
    job.sink.error(CallCode.Unavailable, "responder is shutting down; re-issue the request", { error: SHUTTING_DOWN, retry_after_s: 1 });
  else job.sink.abandon();
}

/** Moves a job's remaining output to a re-issued request: ack, then (streaming) what was already sent. */
export function joinJob(job: Job, msg: ReplyTarget, stream: boolean, encoding: Encoding): void {
  job.sink.retarget(msg, stream, encoding);
  job.sink.ack();
  if (job.state === "queued") job.sink.send({ type: "status", data: Status.Queued });
  if (!stream) return;
  // Every attempt's stream starts from the beginning; the client skips what it already yielded.
  let text = "";
  for (const c of job.history) {
    if (c.type === "response") text += responseText(c);
    else {
      if (text) job.sink.send({ type: "response", data: text });
      text = "";
      job.sink.send(c);
    }
  }
  if (text) job.sink.send({ type: "response", data: text });
}

/** Runs the handler to the end (or until stopped) and sends the answer. Never throws. */
export async function runJob(job: Job, handler: RoleHandler, ctx: RoleContext, host: string, role: string): Promise<JobOutcome> {
  job.state = "running";
  const { sink } = job;
  sink.keepAlive(Status.Working);
  try {
    for await (const chunk of handler(job.inbound.req, ctx)) {
      // A reply the sink had to end (a chunk over max_payload): the rest would go nowhere.
      if (job.stopReason || sink.failure) break;
      record(job, chunk);
      if (sink.stream && chunk.type !== "final") sink.send(chunk);
    }
    if (job.stopReason) return { type: "stopped", reason: job.stopReason };
    const final = job.final ?? synthesizedFinal(job, host, role);
    const toolEvents = job.history.filter((c) => c.type === "tool_call" || c.type === "tool_result");
    const answer: CompletedAnswer = { text: job.text, final, toolCalls: job.toolCalls, toolEvents };
    if (!sink.failure) sendAnswer(sink, answer);
    // Not completed, so not cached: a re-issue runs again rather than replaying what could not be sent.
    if (sink.failure) return { type: "failed", ...sink.failure };
    return { type: "completed", answer };
  } catch (err) {
    if (job.stopReason) return { type: "stopped", reason: job.stopReason };
    const code = err instanceof RoleCallError ? err.status : CallCode.Internal;
    // A RoleCallError's own message starts "role 'x': "; the caller adds that again.
    const message =
      err instanceof RoleCallError
        ? (err.body?.message ?? err.message.replace(/^role '[^']*': /, ""))
        : err instanceof Error
          ? err.message
          : String(err);
    sink.error(code, message, err instanceof RoleCallError ? err.body : undefined);
    return { type: "failed", code, message };
  } finally {
    job.state = "done";
    clearTimeout(job.deadlineTimer);
  }
}

function record(job: Job, chunk: Chunk): void {
  switch (chunk.type) {
    case "status":
      job.sink.keepAlive(chunk.data);
      return;
    case "response":
      job.firstChunkAt ??= Date.now();
      job.text += responseText(chunk);
      break;
    case "tool_call":
      job.toolCalls.push(chunk.data);
      break;
    case "final":
      job.final = chunk.data;
      return;
  }
  job.history.push(chunk);
}

/** Sends a completed answer: one response chunk (non-streaming) or the final chunk, then the end. */
export function sendAnswer(sink: ReplySink, answer: CompletedAnswer): void {
  if (sink.stream) {
    sink.send({ type: "final", data: answer.final });
  } else {
    const data: Record<string, unknown> = { text: answer.text, ...answer.final };
    if (answer.toolCalls.length) data.tool_calls = answer.toolCalls;
    sink.send({ type: "response", data: data as { text: string } });
  }
  sink.end();
}

/** Answers a repeat of a completed request id from memory: the handler does not run again. */
export function replayAnswer(sink: ReplySink, answer: CompletedAnswer): void {
  sink.ack();
  if (sink.stream) {
    // Tool events first, as they happened before the answer's text (a tool loop's order).
    for (const c of answer.toolEvents) sink.send(c);
    sink.send({ type: "response", data: answer.text });
  }
  sendAnswer(sink, answer);
}

/** The final info of a handler that sent none: the answer still says who and how long. */
function synthesizedFinal(job: Job, host: string, role: string): FinalInfo {
  const now = Date.now();
  return {
    model: "unknown",
    backend: "unknown",
    host,
    role,
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    timings: {
      total_ms: now - job.acceptedAt,
      ...(job.firstChunkAt !== undefined ? { first_token_ms: job.firstChunkAt - job.acceptedAt } : {}),
    },
  };
}
