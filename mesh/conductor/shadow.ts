/**
 * Shadow variants: a step's request sent again to a shadow variant of its role, in the background,
 * its answer logged as `shadow_answer` beside the primary's, never streamed to the outbox. The
 * turn never waits for one: at most `concurrency` run at once and past that a shadow is skipped
 * (it is a sample); a failed shadow is logged with its error, never fails the turn.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { responseText, type InboxMessage, type LogEvent, type RoleRequest } from "../../schemas/index.ts";
import { encodeBody } from "../body.ts";
import { publishStored } from "../publish-stored.ts";
import { OnOutage } from "../rolecall/index.ts";
import { subjects } from "../subjects.ts";
import type { Mesh } from "../connect.ts";
import type { Logger } from "../logger.ts";
import type { ConductorEvent, RoleCaller, RoleResult } from "./types.ts";

/** Default shadow calls at once per conductor (conductor.shadow_concurrency). */
export const DEFAULT_SHADOW_CONCURRENCY = 4;

export interface ShadowJob {
  msg: InboxMessage;
  role: string;
  step: string;
  variant: string;
  /** The primary variant, whose answer it is compared with. */
  primaryVariant: string;
  req: RoleRequest;
  /** The primary's request id; the shadow's is derived from it. */
  requestId: string;
  /** The primary call; its answer goes into the shadow's event. */
  primary: Promise<RoleResult>;
  traced: { trace_id?: string };
}

export interface ShadowRunner {
  /** Starts a shadow call unless `concurrency` run already (then it is skipped). Never throws. */
  start(job: ShadowJob): void;
  /** Shadows running now. */
  running(): number;
  /** Shadows skipped so far because `concurrency` were running. */
  skipped(): number;
  /** Aborts the running shadows and waits for them to end. */
  close(): Promise<void>;
}

export interface ShadowRunnerOptions {
  mesh: Mesh;
  js: JetStreamClient;
  roles: RoleCaller;
  log: Logger;
  /** Shadow calls at once; 0 runs none; default DEFAULT_SHADOW_CONCURRENCY. */
  concurrency?: number;
  /** Time one shadow call may take, ms. */
  timeoutMs: number;
  /** Each shadow's outcome, for metrics. */
  onEvent?: (e: Extract<ConductorEvent, { type: "shadow" }>) => void;
}

export function createShadowRunner(o: ShadowRunnerOptions): ShadowRunner {
  const limit = o.concurrency ?? DEFAULT_SHADOW_CONCURRENCY;
  const live = new Set<Promise<void>>();
  const abort = new AbortController();
  let skipped = 0;
  return {
    start(job) {
      const seen = (outcome: "logged" | "failed" | "skipped") =>
        o.onEvent?.({ type: "shadow", role: job.role, variant: job.variant, outcome });
      if (live.size >= limit || abort.signal.aborted) {
        skipped++;
        seen("skipped");
        o.log.debug({ role: job.role, variant: job.variant, running: live.size }, "shadow skipped: the shadow limit is reached");
        return;
      }
      const p: Promise<void> = runShadow(o, job, abort.signal)
        .then((ok) => {
          if (ok !== undefined) seen(ok ? "logged" : "failed");
        })
        .catch((err: unknown) => o.log.warn({ err, role: job.role, variant: job.variant }, "shadow answer not logged"))
        .finally(() => live.delete(p));
      live.add(p);
    },
    running: () => live.size,
    skipped: () => skipped,
    async close() {
      abort.abort();
      await Promise.allSettled([...live]);
    },
  };
}

/** Logs the shadow's answer: true when it answered, false when it failed, undefined when stopped first. */
async function runShadow(o: ShadowRunnerOptions, job: ShadowJob, signal: AbortSignal): Promise<boolean | undefined> {
  const t0 = Date.now();
  let text = "";
  let error: string | undefined;
  let result: RoleResult | undefined;
  try {
    const s = o.roles.stream(
      job.role,
      { ...job.req, variant: job.variant },
      {
        signal,
        timeoutMs: o.timeoutMs,
        requestId: `${job.requestId}-shadow-${job.variant}`,
        conversation: job.msg.conversation,
        // A shadow is a sample: an outage is not worth waiting out.
        onOutage: OnOutage.Fail,
      },
    );
    for await (const ch of s) if (ch.type === "response") text += responseText(ch);
    result = await s.result;
    text = result.text;
  } catch (err) {
    if (signal.aborted) return undefined;
    error = (err as Error).message;
  }
  const primary = await job.primary.then(
    (r) => ({ variant: job.primaryVariant, text: r.text, latency_ms: r.final.timings.total_ms }),
    (err: unknown) => ({ variant: job.primaryVariant, text: "", error: (err as Error).message }),
  );
  if (signal.aborted) return undefined;
  const f = result?.final;
  const event: LogEvent = {
    type: "shadow_answer",
    ts: Date.now(),
    conversation: job.msg.conversation,
    turn: job.msg.id,
    ...job.traced,
    role: job.role,
    step: job.step,
    variant: job.variant,
    text,
    ...(error !== undefined ? { error } : {}),
    ...(f
      ? {
          host: result!.host,
          backend: f.backend,
          model: f.model,
          tokens: f.usage.completion_tokens,
          latency_ms: f.timings.total_ms,
          ...(f.timings.first_token_ms !== undefined ? { first_token_ms: f.timings.first_token_ms } : {}),
          ...(f.fallback ? { fallback: f.fallback.reason } : {}),
        }
      : { latency_ms: Date.now() - t0 }),
    primary,
  };
  const { data, headers } = encodeBody(o.mesh, event);
  await publishStored(o.js, subjects.log(job.msg.conversation), data, {
    msgID: `${job.msg.channel}:${job.msg.id}:${job.step}-shadow-${job.variant}`,
    headers,
    signal,
  });
  return error === undefined;
}
