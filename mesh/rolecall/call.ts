/**
 * One role call on the wire: attempts with a fresh reply inbox each, re-issued with the same
 * request id when a replica is presumed dead (no ack, keep-alive gap, 503 shutting down),
 * retried with jittered backoff on 429, all within the call's deadline. No responders fails at
 * once; with `onOutage: "wait"` it, and silent replicas, are retried until the deadline instead.
 */
import { headers, type Msg, type NatsConnection } from "@nats-io/nats-core";
import {
  Chunk,
  decode,
  ErrorBody,
  Header,
  KnownChunkTypes,
  CallCode,
  contentTypeOf,
  SHUTTING_DOWN,
  type Encoding,
} from "../../schemas/index.ts";
import { DeadlineExceededError, InternalError, RoleCallError, UnavailableError, roleCallError } from "../errors.ts";
import { subjects } from "../subjects.ts";
import { createCollector } from "./collector.ts";
import { queueGroup, type Route } from "./dispatch.ts";
import type { Mailbox } from "./mailbox.ts";
import type { ReplyRoutes } from "./replies.ts";
import { createOutage, jitter, type OutageEnd } from "./retry.ts";
import { OnOutage, type RoleResult } from "./types.ts";

/** A reply message tagged with the attempt whose inbox it reached. */
export interface Delivery {
  attempt: number;
  msg: Msg;
}

export interface CallPlan {
  nc: NatsConnection;
  /** The client's reply inboxes: each attempt gets its own. */
  replies: ReplyRoutes;
  role: string;
  body: Uint8Array;
  /** The body of a re-issue that resumes the answer text already streamed; undefined when it cannot (client.ts). */
  resumeBody?: (text: string) => Uint8Array | undefined;
  encoding: Encoding;
  requestId: string;
  conversation: string | undefined;
  deadline: number;
  ackWindowMs: number;
  /** Undefined: sized from the keep-alive the responder advertises (gapFor). */
  keepAliveGapMs: number | undefined;
  /** Attempts before the call fails; with onOutage "wait", refusals only (429, 503 without a backend). */
  maxAttempts: number;
  /** Whether an outage (no responders, silent replicas) fails the call or is waited out until the deadline. */
  onOutage: OnOutage;
  headers: Record<string, string>;
  /** Fed by the attempts' subscriptions; fail() on it interrupts the call. */
  box: Mailbox<Delivery>;
  onChunk: (c: Chunk) => void;
  /** Where the first attempt goes (capacity-aware dispatch); default the queue group. */
  route?: () => Route;
  /** A directly addressed replica failed: its state is dropped. */
  onRouteFailed?: (instance: string) => void;
  /** The replica that answered (the ack's Lyra-Instance, else the addressed one), for warm-cache affinity. */
  onServed?: (instance: string) => void;
}

/**
 * `free`: the retry does not count as an attempt (a directly addressed replica that is gone).
 * `outage`: nobody answered; with onOutage "wait" bounded by the deadline, not by maxAttempts.
 */
type AttemptEnd =
  | { type: "done"; instance: string | undefined }
  | { type: "retry"; error: RoleCallError; delayMs: number; free?: boolean; outage?: OutageEnd };

/** The keep-alive gap when the responder advertises no keep-alive period (older responders, other Agent Protocol agents). */
export const UNADVERTISED_GAP_MS = 5000;
/** The gap is this many advertised keep-alive periods (a healthy responder is silent for at most ~2)... */
const GAP_PERIODS = 4;
/** ...and never shorter than this. */
const MIN_GAP_MS = 1000;

/** The keep-alive gap for an advertised keep-alive period (the ack's Lyra-Keep-Alive header). */
export function gapFor(advertised: string | undefined): number {
  const k = Number(advertised);
  return advertised && Number.isFinite(k) && k > 0 ? Math.max(MIN_GAP_MS, GAP_PERIODS * k) : UNADVERTISED_GAP_MS;
}

export async function runCall(p: CallPlan): Promise<RoleResult> {
  const collector = createCollector(p.role);
  const outage = createOutage(p.role, p.maxAttempts);
  const wait = p.onOutage === OnOutage.Wait;
  let counted = 0;
  let route = p.route?.() ?? queueGroup(p.role, "dispatch off");
  for (let attempt = 1; ; attempt++) {
    if (Date.now() >= p.deadline) throw outage.deadlineError() ?? deadlineError(p);
    let end: AttemptEnd;
    try {
      end = await runAttempt(p, attempt, collector, route);
    } finally {
      route.release?.();
    }
    if (end.type === "done") {
      if (end.instance) p.onServed?.(end.instance);
      return collector.result(attempt);
    }
    // A re-issue after a direct send goes to the queue group: whoever is alive and free there.
    if (route.instance) {
      p.onRouteFailed?.(route.instance);
      route = queueGroup(p.role, `re-issue after ${route.reason.split(":")[0]} failed (${end.error.message})`);
    }
    if (end.free) {
      attempt--; // nothing reached a replica: the queue group gets the attempt
      continue;
    }
    let delayMs = end.delayMs;
    if (wait && end.outage) delayMs = outage.next(end.outage, end.error, end.delayMs);
    else {
      if (wait) outage.reset(); // a live replica answered, with a refusal
      if (++counted >= p.maxAttempts) throw end.error;
    }
    await p.box.sleep(Math.min(delayMs, p.deadline - Date.now()));
  }
}

async function runAttempt(p: CallPlan, attempt: number, collector: ReturnType<typeof createCollector>, route: Route): Promise<AttemptEnd> {
  const { nc, role, box, deadline } = p;
  const inbox = p.replies.open((msg) => box.push({ attempt, msg }));
  try {
    // A re-issue after answer text was shown asks the new replica to continue that text.
    const shown = attempt > 1 ? collector.resumable() : undefined;
    const body = (shown && p.resumeBody?.(shown)) || p.body;
    nc.publish(route.subject, body, { reply: inbox.subject, headers: requestHeaders(p, attempt, route.reason) });
    collector.startAttempt();
    let acked = false;
    let heard = Date.now();
    let gapMs = p.keepAliveGapMs ?? UNADVERTISED_GAP_MS;
    let instance = route.instance;
    for (;;) {
      const wait = Math.min(acked ? gapMs : p.ackWindowMs, deadline - Date.now());
      const d = await box.take(wait);
      if (!d) {
        // At the deadline a replica still within its keep-alive gap was only slow; a silent one is
        // an outage, which a call that waits outages out reports as such (runCall).
        const silent = !acked || Date.now() - heard >= gapMs;
        if (Date.now() >= deadline && !(silent && p.onOutage === OnOutage.Wait)) throw deadlineError(p);
        const why = acked ? `no message for ${gapMs} ms after the ack` : `no ack within ${p.ackWindowMs} ms`;
        const error = new UnavailableError(CallCode.Unavailable, role, `replica presumed dead: ${why}`);
        return { type: "retry", error, delayMs: 0, outage: { silentSince: heard, backoff: false } };
      }
      if (d.attempt !== attempt) continue; // an earlier attempt's straggler
      const { msg } = d;
      const h = msg.headers;
      if (msg.data.length === 0 && !h) return { type: "done", instance };
      if (msg.data.length === 0 && h?.status === "503") {
        // The addressed replica is gone (its state was not yet stale): the queue group next.
        if (route.instance)
          return {
            type: "retry",
            error: new UnavailableError(CallCode.Unavailable, role, "the chosen replica is gone (no responders)"),
            delayMs: 0,
            free: true,
          };
        // NATS no-responders: nobody serves the role, known at once.
        const error = new UnavailableError(
          CallCode.Unavailable,
          role,
          `no agent serves role '${role}' (no responders on ${subjects.role(role)})`,
        );
        if (p.onOutage !== OnOutage.Wait) throw error;
        return { type: "retry", error, delayMs: 0, outage: { silentSince: heard, backoff: true } };
      }
      heard = Date.now();
      const code = h?.get(Header.ErrorCode);
      if (code) return errorEnd(p, msg, Number(code), attempt);
      const chunk = parseChunk(msg, role);
      if (!chunk) continue;
      acked = true; // any chunk proves the replica is alive, even from a responder that sends no ack
      if (chunk.type === "status" && chunk.data === "ack") {
        collector.setHost(h?.get(Header.Host) ?? "", h?.get(Header.Route) || route.reason);
        instance = h?.get(Header.Instance) || instance;
        if (p.keepAliveGapMs === undefined) gapMs = gapFor(h?.get(Header.KeepAlive));
      }
      const out = collector.accept(chunk);
      if (out) p.onChunk(out);
    }
  } finally {
    inbox.close();
  }
}

function requestHeaders(p: CallPlan, attempt: number, route: string) {
  const h = headers();
  h.set(Header.Route, route);
  for (const [k, v] of Object.entries(p.headers)) h.set(k, v);
  h.set(Header.ContentType, contentTypeOf(p.encoding));
  h.set(Header.RequestId, p.requestId);
  if (p.conversation) h.set(Header.Conversation, p.conversation);
  h.set(Header.Deadline, String(p.deadline));
  h.set(Header.Stream, "1");
  h.set(Header.Attempt, String(attempt));
  return h;
}

/** 429 and 503 are worth another attempt (another replica); any other code ends the call. */
function errorEnd(p: CallPlan, msg: Msg, code: number, attempt: number): AttemptEnd {
  let body: ErrorBody | undefined;
  try {
    body = ErrorBody.parse(decode(msg.data, msg.headers?.get(Header.ContentType) || undefined).value);
  } catch {
    body = undefined; // the headers alone still say what went wrong
  }
  const err = roleCallError(code, p.role, msg.headers?.get(Header.Error) || body?.message || `error ${code}`, body);
  // A replica shutting down is an outage (its work goes elsewhere, or to it once restarted); one
  // without a working backend refuses, and refusals are bounded by maxAttempts.
  if (err.status === CallCode.Unavailable && body?.error === SHUTTING_DOWN) {
    return { type: "retry", error: err, delayMs: jitter(50), outage: { silentSince: Date.now(), backoff: false } };
  }
  if (err.status === CallCode.Unavailable) return { type: "retry", error: err, delayMs: jitter(50) };
  if (err.status !== CallCode.Busy) throw err;
  const left = p.deadline - Date.now();
  const base = err.retryAfterS !== undefined ? err.retryAfterS * 1000 : 100 * 2 ** (attempt - 1);
  // Wait what the replica asked (jittered, so callers do not return together), but leave room
  // for the attempt itself inside the deadline.
  const delayMs = Math.min(jitter(base), left / 2);
  if (delayMs < 1) throw err;
  return { type: "retry", error: err, delayMs };
}

/** A validated chunk, or undefined for a chunk type this client does not know. */
function parseChunk(msg: Msg, role: string): Chunk | undefined {
  let value: unknown;
  try {
    value = decode(msg.data, msg.headers?.get(Header.ContentType) || undefined).value;
  } catch (err) {
    throw new InternalError(CallCode.Internal, role, `role sent an undecodable chunk: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== "string" || !KnownChunkTypes.has(type)) return undefined;
  const r = Chunk.safeParse(value);
  if (!r.success) throw new InternalError(CallCode.Internal, role, `role sent an invalid '${type}' chunk: ${r.error.issues[0]?.message}`);
  return r.data;
}

function deadlineError(p: CallPlan): DeadlineExceededError {
  return new DeadlineExceededError(
    CallCode.Timeout,
    p.role,
    `no complete answer before the deadline (${new Date(p.deadline).toISOString()})`,
  );
}
