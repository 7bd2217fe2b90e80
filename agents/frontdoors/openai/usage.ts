/**
 * Usage of the direct role calls (`lyra/<role>`): they make no turn, so no step event records
 * them; each answered call appends a `usage` event to the log stream on `lyra.log.usage.openai`,
 * which `lyra usage` counts with the committee's steps.
 */
import { jetstream } from "@nats-io/jetstream";
import type { FinalInfo, LogEvent } from "../../../schemas/index.ts";
import { encodeBody, FRONT_DOORS, subjects, type Logger, type Mesh } from "../../../mesh/index.ts";

/** Records one answered direct call: its request id (the event's message id, so a retry stores it once), user and conversation. */
export type RecordUsage = (call: {
  requestId: string;
  user: string;
  conversation?: string;
  role: string;
  final: FinalInfo;
}) => Promise<void>;

/** Appends usage events to the log; a failure is logged, never the caller's (the answer was given). */
export function usageRecorder(mesh: Mesh, log: Logger): RecordUsage {
  const js = jetstream(mesh.nc);
  const channel = FRONT_DOORS.serve!;
  return async ({ requestId, user, conversation, role, final }) => {
    const u = final.usage;
    const ev: LogEvent = {
      type: "usage",
      ts: Date.now(),
      conversation: conversation ?? "",
      turn: requestId,
      channel,
      user,
      role,
      host: final.host,
      backend: final.backend,
      model: final.model,
      tokens: u.completion_tokens,
      tokens_in: u.prompt_tokens,
      tokens_out: u.completion_tokens,
      ...(u.estimated ? { tokens_estimated: true } : {}),
      latency_ms: final.timings.total_ms,
    };
    const { data, headers } = encodeBody(mesh, ev);
    await js
      .publish(subjects.usage(channel), data, { msgID: `usage:${requestId}`, headers })
      .then(() => undefined)
      .catch((err: unknown) => log.warn({ err, role }, "could not record the usage of a direct call"));
  };
}
