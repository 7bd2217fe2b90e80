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
 * Error codes that travel on the wire (NATS micro error headers). Aligned with the NATS Agent
 * Protocol v0.1 taxonomy, plus 408 (deadline passed) and 503 (no capacity or no backend).
 */
export const WireCode = {
  BadRequest: 400,
  Forbidden: 403,
  NotFound: 404,
  Timeout: 408,
  Conflict: 409,
  Busy: 429,
  Internal: 500,
  Unavailable: 503,
} as const;
export type WireCode = (typeof WireCode)[keyof typeof WireCode];

/** Stable machine-readable names that go in the error body's `error` field. */
export const wireErrorName: Record<WireCode, string> = {
  400: "bad_request",
  403: "forbidden",
  404: "not_found",
  408: "deadline_exceeded",
  409: "conflict",
  429: "busy",
  500: "internal",
  503: "unavailable",
};

export function isWireCode(n: number): n is WireCode {
  return Object.values(WireCode).includes(n as WireCode);
}
