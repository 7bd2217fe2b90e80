/** Public types of the role-call client and responder. */
import type { CallCode, Chunk, Encoding, FinalInfo, RoleRequest, ToolCall } from "../../schemas/index.ts";
import type { Logger } from "../logger.ts";
import type { Drainable } from "../lifecycle.ts";
import type { RequestHeaders } from "./inbound.ts";

/** What a handler gets besides the request. */
export interface RoleContext {
  readonly requestId: string;
  readonly conversation: string | undefined;
  /** Absolute deadline, epoch ms; the signal fires when it passes. */
  readonly deadline: number;
  /** Whether the caller asked for the chunk stream (it changes only what goes on the wire). */
  readonly stream: boolean;
  /** Fires on caller cancel, deadline, drain timeout or close. */
  readonly signal: AbortSignal;
  /** pino child bound to role, host, request and conversation. */
  readonly log: Logger;
  /** The request's NATS headers (traceparent and friends). */
  readonly headers: RequestHeaders | undefined;
  /** This request's span as a W3C traceparent: put it on the calls the handler makes (tools). */
  readonly traceparent?: string;
}

/**
 * Serves one request: yields status (keep-alive text such as "loading"), response (content
 * deltas), tool_call, tool_result and final chunks. Throwing a RoleCallError answers with its
 * status, anything else with 500.
 */
export type RoleHandler = (req: RoleRequest, ctx: RoleContext) => AsyncIterable<Chunk>;

/** Cheap lifecycle events for metrics. */
export type ResponderEvent =
  | { type: "accepted"; requestId: string; queued: boolean }
  | { type: "rejected"; requestId: string | undefined; code: CallCode }
  | { type: "completed"; requestId: string; durationMs: number; firstChunkMs: number | undefined }
  | { type: "failed"; requestId: string; code: CallCode }
  /** The caller cancelled; nothing more is sent to it. */
  | { type: "cancelled"; requestId: string };

export interface ResponderOptions {
  role: string;
  /** This machine's name, sent in the ack's Lyra-Host header and in service metadata. */
  host: string;
  /** Agent Protocol owner token; default "lyra". */
  owner?: string;
  handler: RoleHandler;
  /** Requests run at once (match the backend's parallel slots); default 1. */
  concurrency?: number;
  /** Requests that may wait for a slot; past that the answer is 429; default 4. */
  queueSize?: number;
  /** Streaming keep-alive period, ms, advertised on the ack (Lyra-Keep-Alive); default 250. */
  keepAliveMs?: number;
  /** Time drain() gives in-flight work before aborting it, ms; default 10000. */
  graceMs?: number;
  /** How long a request id is remembered for de-duplication, ms; default 60000. */
  dedupWindowMs?: number;
  /** Service version: the harness's semver, not the protocol's (§3.1); default "0.1.0". */
  version?: string;
  /** Service description; default "Lyra role <role>". */
  description?: string;
  /** Extra static service metadata (model, backend...). */
  metadata?: Record<string, string>;
  /** Extra dynamic data for the $SRV.STATS endpoint `data`. */
  stats?: () => Record<string, unknown>;
  /** Heartbeat period, s; default 30, 0 turns it off. */
  heartbeatIntervalS?: number;
  /**
   * Whether the role takes request attachments (the model sees images): advertised as
   * `attachments_ok`; when false, a request with attachments is a 400 (§5.1). Default false.
   */
  attachments?: boolean;
  /** Advertised in the endpoint metadata and enforced on requests; default the server's max_payload. */
  maxPayload?: number;
  /** Default deadline of requests that carry none, ms; default 120000. */
  defaultTimeoutMs?: number;
  events?: (e: ResponderEvent) => void;
  /**
   * What the capacity state (`lyra.state.<role>.<instance>`) says of the model: loaded or not,
   * degraded or not. Default: a loaded, healthy model.
   */
  capacity?: () => { model?: string; loaded: boolean; degraded: boolean };
  /** Capacity state period, ms (it also goes out on change); default 500, 0 turns the state feed off. */
  stateIntervalMs?: number;
  /** The replica's region, advertised in its capacity state; default the mesh connection's region. */
  region?: string;
}

/** A role being served. */
export interface RoleResponder extends Drainable {
  /** The micro service instance id. */
  readonly id: string;
  readonly role: string;
  inFlight(): number;
  queueDepth(): number;
  /** Stops taking work, lets in-flight work finish within graceMs, aborts the rest (shutting_down). */
  drain(): Promise<void>;
  /** Aborts everything now (callers get shutting_down and re-issue elsewhere). */
  close(): Promise<void>;
}

/** The collected answer of a role call. */
export interface RoleResult {
  text: string;
  final: FinalInfo;
  toolCalls: ToolCall[];
  /** The host that answered (from the ack). */
  host: string;
  /** Attempts used, 1 when the first replica answered. */
  attempts: number;
  /** The routing decision of the answering attempt and its reason (Lyra-Route). */
  route?: string;
  /** Where the answer was continued after the replica streaming it died (absent when it never was). */
  resumed?: Resumed[];
}

/** A resumed answer: the new replica continued the `at` characters already streamed. */
export interface Resumed {
  /** Characters of answer text streamed before the re-issue, which the new replica continued. */
  at: number;
  /** The host whose answer stopped ("" when it never acked). */
  from: string;
  /** The host that continued it. */
  to: string;
}

/** Chunks as they arrive, plus the collected result. */
export interface RoleStream extends AsyncIterable<Chunk> {
  readonly result: Promise<RoleResult>;
}

/** Deadline of a role call that sets none (the client's timeoutMs, the responder's default), ms. */
export const DEFAULT_CALL_TIMEOUT_MS = 120_000;

export interface CallOptions {
  signal?: AbortSignal;
  /** Overall deadline from now, ms; default 120000 (sent as Lyra-Deadline). */
  timeoutMs?: number;
  /** Default a fresh nuid; re-issues reuse it. */
  requestId?: string;
  conversation?: string;
  /** Time allowed for the ack before the replica is presumed dead, ms; default 1000. */
  ackWindowMs?: number;
  /**
   * Silence after the ack that marks the replica dead, ms. Default: 4 × the keep-alive period the
   * responder advertises on its ack (Lyra-Keep-Alive; 1000 for the default 250), at least 1000;
   * 5000 when the responder advertises none.
   */
  keepAliveGapMs?: number;
  /**
   * Attempts in all (re-issues and 429 retries); default 5. With onOutage "wait" it bounds only
   * refusals from live replicas (429 busy, 503 without a working backend) and the re-issues sent
   * at once after a silent replica; outages go on until the deadline.
   */
  maxAttempts?: number;
  /**
   * While no agent answers the role: "fail" (no responders at once, silent replicas after maxAttempts) or
   * "wait" until the deadline; default "fail".
   */
  onOutage?: OnOutage;
  /** Extra request headers (traceparent...). */
  headers?: Record<string, string>;
  /** Request body encoding; default the mesh's. */
  encoding?: Encoding;
  /** Capacity-aware dispatch from the replicas' state feed; default true (false: always the queue group). */
  dispatch?: boolean;
  /**
   * Whether a re-issue after answer text was streamed asks the new replica to continue that text
   * (`resume`); default true. false: the new replica answers afresh and the text it repeats is skipped.
   */
  resume?: boolean;
}

/**
 * What a call does while no agent answers its role: nobody serves it (NATS no responders), or its
 * replicas are presumed dead (no ack, keep-alive gap, shutting down). `fail`: no responders fails
 * at once and silent replicas are re-issued up to maxAttempts times, then UnavailableError, for
 * callers with somewhere else to go (a fallback) or a person waiting. `wait`: both are retried
 * until the deadline, re-issues at once at first, then with backoff (100 ms doubling to 2 s,
 * jittered), for an agent that is restarting or stalled; past the deadline DeadlineExceededError
 * says for how long no agent served the role and what the last attempt met.
 */
export const OnOutage = { Fail: "fail", Wait: "wait" } as const;
export type OnOutage = (typeof OnOutage)[keyof typeof OnOutage];

/** A request: a RoleRequest, or a plain prompt. */
export type RoleCallInput = RoleRequest | string;

export interface RoleClient extends AsyncDisposable {
  /** Calls a role and collects the answer. */
  call(role: string, request: RoleCallInput, opts?: CallOptions): Promise<RoleResult>;
  /** Calls a role and yields its chunks as they arrive. */
  stream(role: string, request: RoleCallInput, opts?: CallOptions): RoleStream;
  /** Pending calls. */
  pending(): number;
  /** Waits for pending calls to settle (each is bounded by its deadline). */
  drain(): Promise<void>;
  /** Rejects pending calls with ConnectionClosedError. */
  close(): Promise<void>;
  /** Resolves when closed; never rejects. */
  closed(): Promise<void>;
}
