/**
 * A role's admission: which requests run (at most `concurrency` at once), which wait (at most
 * `queueSize`), when the role is busy (429) and for how long, and when it is idle. It owns the
 * live jobs by request id, so a re-issue can find the job it joins.
 */
import type { Logger } from "../logger.ts";
import { Status } from "../../schemas/index.ts";
import { stopJob, StopReason, type Job, type JobOutcome } from "./job.ts";

export interface AdmissionHooks {
  /** Runs an admitted job's handler to its end (the per-request run). */
  run(job: Job): Promise<JobOutcome>;
  /** A job was admitted: acked, then started or queued. */
  accepted(job: Job, queued: boolean): void;
  /** A job's handler returned; the job is no longer in flight. `durationMs` counts from admission. */
  ended(job: Job, outcome: JobOutcome, durationMs: number): void;
  /** A job was stopped from outside (cancel, deadline, shutdown). */
  stopped(job: Job, reason: StopReason): void;
  /** In-flight work or the queue changed (the capacity state goes out). */
  changed(): void;
}

export interface Admission {
  /** The queued or running job of a request id. */
  live(id: string): Job | undefined;
  /** Running and queue both full: the next request is refused as busy. */
  full(): boolean;
  /** How long a busy caller should wait, s: the work ahead of it at the recent request time. */
  retryAfterS(): number;
  admit(job: Job): void;
  /** Stops a queued or running job from outside; a running one is accounted when its handler returns. */
  stop(job: Job, reason: StopReason): void;
  stopAll(reason: StopReason): void;
  /** Resolves when nothing runs or waits, or after `ms`. */
  idle(ms: number): Promise<void>;
  readonly running: number;
  readonly queued: number;
  /** Moving average of time to first chunk, ms; undefined before the first completed request. */
  readonly ttftMs: number | undefined;
}

export function createAdmission(concurrency: number, queueSize: number, log: Logger, hooks: AdmissionHooks): Admission {
  const jobs = new Map<string, Job>(); // queued or running, by request id: what a re-issue joins
  const queue: Job[] = [];
  let running = 0;
  let avgMs = 1000; // moving average of request time, for retry_after_s
  let ttftMs: number | undefined; // moving average of time to first chunk, for the state feed
  let idleWaiters: Array<() => void> = [];
  const checkIdle = () => {
    if (running > 0 || queue.length > 0) return;
    for (const w of idleWaiters) w();
    idleWaiters = [];
  };
  const forget = (job: Job) => {
    if (jobs.get(job.inbound.id) === job) jobs.delete(job.inbound.id);
  };

  const start = (job: Job) => {
    running++;
    void hooks
      .run(job)
      .then((outcome) => finished(job, outcome))
      .catch((err: unknown) => log.error({ err }, "responder bookkeeping failed"));
  };

  const finished = (job: Job, outcome: JobOutcome) => {
    running--;
    forget(job);
    const durationMs = Date.now() - job.acceptedAt;
    if (outcome.type === "completed") {
      avgMs = avgMs * 0.8 + durationMs * 0.2;
      if (job.firstChunkAt)
        ttftMs = ttftMs === undefined ? job.firstChunkAt - job.acceptedAt : ttftMs * 0.8 + (job.firstChunkAt - job.acceptedAt) * 0.2;
    }
    hooks.ended(job, outcome, durationMs);
    while (running < concurrency && queue.length > 0) start(queue.shift()!);
    hooks.changed();
    checkIdle();
  };

  const stop = (job: Job, reason: StopReason) => {
    if (job.state === "done" || job.stopReason) return;
    const wasQueued = job.state === "queued";
    stopJob(job, reason);
    forget(job);
    hooks.stopped(job, reason);
    if (wasQueued) {
      job.state = "done";
      queue.splice(queue.indexOf(job), 1);
      checkIdle();
    }
  };

  return {
    live: (id) => jobs.get(id),
    full: () => running >= concurrency && queue.length >= queueSize,
    retryAfterS: () => Math.max(1, Math.ceil((avgMs * (running + queue.length)) / concurrency / 1000)),
    admit(job) {
      jobs.set(job.inbound.id, job);
      // setTimeout overflows past 2^31 ms; a deadline that far away is as good as none.
      const wait = Math.min(job.inbound.deadline - Date.now(), 2 ** 31 - 1);
      job.deadlineTimer = setTimeout(() => stop(job, StopReason.Deadline), wait);
      // Every admitted request, streamed or not, gets exactly one ack first (§6.4).
      job.sink.ack();
      hooks.accepted(job, running >= concurrency);
      hooks.changed();
      if (running < concurrency) return start(job);
      queue.push(job);
      job.sink.keepAlive(Status.Queued);
      job.sink.send({ type: "status", data: Status.Queued });
    },
    stop,
    stopAll(reason) {
      for (const job of [...jobs.values()]) stop(job, reason);
    },
    idle: (ms) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
        checkIdle();
      }),
    get running() {
      return running;
    },
    get queued() {
      return queue.length;
    },
    get ttftMs() {
      return ttftMs;
    },
  };
}
