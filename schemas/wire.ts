/**
 * Wire constants: header names, content types, error codes. Every process reads metadata from
 * these headers, so a raw `nats sub` shows who sent what.
 */

/** NATS header names used on every Lyra message. */
export const Header = {
  RequestId: "Lyra-Request-Id",
  Conversation: "Lyra-Conversation",
  Role: "Lyra-Role",
  Host: "Lyra-Host",
  /** On the ack: the answering replica's instance id (warm-cache affinity sends the conversation's next call there). */
  Instance: "Lyra-Instance",
  /** Absolute deadline, epoch milliseconds. Work past it is dropped. */
  Deadline: "Lyra-Deadline",
  /** "1" asks the responder for the full chunk stream (ack, keep-alives, deltas, final). */
  Stream: "Lyra-Stream",
  Backend: "Lyra-Backend",
  Fallback: "Lyra-Fallback",
  /** The reply attempt number, so a re-issued request can be told apart in a tap. */
  Attempt: "Lyra-Attempt",
  /** On the ack: the responder's keep-alive period, ms, from which the caller sizes its keep-alive gap. */
  KeepAlive: "Lyra-Keep-Alive",
  /**
   * The caller's routing decision and its reason ("gpu-2: model warm, 1 of 2 slots free" or
   * "queue group: no fresh replica state"), on the request and echoed on the ack.
   */
  Route: "Lyra-Route",
  TraceParent: "traceparent",
  ContentType: "Content-Type",
  ErrorCode: "Nats-Service-Error-Code",
  Error: "Nats-Service-Error",
  /** JetStream de-duplication id. */
  MsgId: "Nats-Msg-Id",
} as const;
export type Header = (typeof Header)[keyof typeof Header];

/** Body encodings. msgpack is the default; JSON is accepted everywhere. */
export const Encoding = { Msgpack: "msgpack", Json: "json" } as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

export const ContentType = {
  Msgpack: "application/msgpack",
  Json: "application/json",
  Text: "text/plain",
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/**
 * The status codes a responder may put in `Nats-Service-Error-Code`: exactly the NATS Agent
 * Protocol 0.3 table (§9.2). "Agents MUST use codes from this table", so nothing else goes out.
 */
export const WireCode = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  Busy: 429,
  Internal: 500,
} as const;
export type WireCode = (typeof WireCode)[keyof typeof WireCode];

/**
 * What a role call can end with, as Lyra's callers see it: the wire codes plus three cases the spec
 * has no code for. 408: the request's deadline passed. 413: a reply chunk that cannot be split
 * (a tool event, the answer's metadata) is over the server's max_payload. 503: nobody can serve it
 * here (shutting down, no working backend, no responders). On the wire they travel as spec codes (wireFormOf)
 * with the Lyra status in the error body's `lyra_status`, from which Lyra's client rebuilds them.
 */
export const CallCode = { ...WireCode, Timeout: 408, PayloadTooLarge: 413, Unavailable: 503 } as const;
export type CallCode = (typeof CallCode)[keyof typeof CallCode];

/** Stable machine-readable names that go in the error body's `error` field. */
export const wireErrorName: Record<CallCode, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  408: "deadline_exceeded",
  413: "payload_too_large",
  409: "conflict",
  429: "busy",
  500: "internal",
  503: "unavailable",
};

/** Error name of a responder that is shutting down: its callers should go to another replica. */
export const SHUTTING_DOWN = "shutting_down";

/** Error name of a 409 for a request id already bound to another caller's or another body's request. */
export const REQUEST_ID_CONFLICT = "request_id_conflict";

/**
 * The spec code a call code travels as. A passed deadline is 409 (the request conflicts with the
 * agent's state: its clock and queue), shutting down is 429 (try again shortly, elsewhere), and
 * no working backend is 500 (the agent's fault, not the caller's), as is a reply too large to send
 * (the agent's output, not the request; another replica would fail the same way).
 */
export function wireFormOf(code: CallCode, errorName?: string): WireCode {
  if (code === CallCode.Timeout) return WireCode.Conflict;
  if (code === CallCode.PayloadTooLarge) return WireCode.Internal;
  if (code === CallCode.Unavailable) return errorName === SHUTTING_DOWN ? WireCode.Busy : WireCode.Internal;
  return code;
}

export function isWireCode(n: number): n is WireCode {
  return Object.values(WireCode).includes(n as WireCode);
}
