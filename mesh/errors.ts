/**
 * Errors of mesh/. Local errors (configuration, connection) carry a string code and never go on
 * the wire. Wire errors (RoleCallError) are rebuilt from the NATS micro error headers.
 */
import { NoRespondersError, RequestError } from "@nats-io/nats-core";
import { CallCode, wireErrorName, type ErrorBody } from "../schemas/index.ts";

/** Every local error code of mesh/ (never on the wire: wire errors carry the wire's error name). */
export const MeshCode = {
  /** A NATS creds file that cannot be read. */
  CredsUnreadable: "creds_unreadable",
  ConnectFailed: "connect_failed",
  ServerTooOld: "server_too_old",
  InvalidEncoding: "invalid_encoding",
  InvalidToken: "invalid_token",
  InvalidRole: "invalid_role",
  InvalidOption: "invalid_option",
  JetStreamUnavailable: "jetstream_unavailable",
  StreamSetupFailed: "stream_setup_failed",
  MediaTooLarge: "media_too_large",
  MediaUnavailable: "media_unavailable",
  MediaCorrupt: "media_corrupt",
  MediaBadReference: "media_bad_reference",
  /** A reply text that cannot be cut to fit max_payload (rolecall/fit.ts). */
  TextTooLarge: "text_too_large",
  ConnectionClosed: "connection_closed",
  Cancelled: "cancelled",
} as const;
export type MeshCode = (typeof MeshCode)[keyof typeof MeshCode];

/**
 * The error name a role call ended with: wireErrorName's, SHUTTING_DOWN, REQUEST_ID_CONFLICT, or
 * whatever another agent put in its error body. It comes from the wire, so it stays an open string.
 */
export type WireErrorName = string;

/** The base of mesh/'s errors; `code` is a MeshCode, except for RoleCallError's wire names. */
export class MeshError<C extends string = MeshCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Whether a NATS request failed because nothing listens on the subject. Discovery ($SRV) reads
 * it as "no service at all": an empty mesh, not a failure. Matched by type: nats-core 3.4 throws
 * NoRespondersError itself from requestMany and a RequestError caused by one from request; the
 * class's `name` is "NoResponders", so a name check would not see it.
 */
export function isNoResponders(err: unknown): boolean {
  return err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders());
}

/** The connection closed while a call or handler was pending. */
export class ConnectionClosedError extends MeshError {
  constructor(what = "operation", options?: { cause?: unknown }) {
    super(MeshCode.ConnectionClosed, `${what} failed: the NATS connection is closed`, options);
  }
}

/** An error a role answered with, or one the caller concluded (no responders, deadline). */
export class RoleCallError extends MeshError<WireErrorName> {
  /** What the call ended with, as a CallCode: 408, 413 and 503 are Lyra's cases, whatever spec code carried them. */
  readonly status: CallCode;
  readonly role: string;
  readonly retryAfterS: number | undefined;
  readonly body: ErrorBody | undefined;
  constructor(status: CallCode, role: string, message: string, body?: ErrorBody, options?: { cause?: unknown }) {
    super(body?.error ?? wireErrorName[status], `role '${role}': ${message}`, options);
    this.status = status;
    this.role = role;
    this.body = body;
    this.retryAfterS = body?.retry_after_s;
  }
}
export class BadRequestError extends RoleCallError {}
export class UnauthorizedError extends RoleCallError {}
export class ForbiddenError extends RoleCallError {}
export class NotFoundError extends RoleCallError {}
export class DeadlineExceededError extends RoleCallError {}
export class ConflictError extends RoleCallError {}
export class BusyError extends RoleCallError {}
export class InternalError extends RoleCallError {}
/** A reply chunk that cannot be split (a tool event, the answer's metadata) is over the server's max_payload. */
export class ReplyTooLargeError extends RoleCallError {}
/** No agent serves the role (NATS no-responders), or the agent has no working backend. */
export class UnavailableError extends RoleCallError {}
/** The caller aborted the call. */
export class CancelledError extends MeshError {
  constructor(role: string, options?: { cause?: unknown }) {
    super(MeshCode.Cancelled, `role '${role}': call cancelled`, options);
  }
}

const byStatus: Record<CallCode, typeof RoleCallError> = {
  [CallCode.BadRequest]: BadRequestError,
  [CallCode.Unauthorized]: UnauthorizedError,
  [CallCode.Forbidden]: ForbiddenError,
  [CallCode.NotFound]: NotFoundError,
  [CallCode.Timeout]: DeadlineExceededError,
  [CallCode.Conflict]: ConflictError,
  [CallCode.PayloadTooLarge]: ReplyTooLargeError,
  [CallCode.Busy]: BusyError,
  [CallCode.Internal]: InternalError,
  [CallCode.Unavailable]: UnavailableError,
};

/**
 * Rebuilds the typed error for a status: a wire code, or the Lyra status (408, 413, 503) an error
 * body names in `lyra_status`, which wins. Unknown codes become InternalError.
 */
export function roleCallError(status: number, role: string, message: string, body?: ErrorBody): RoleCallError {
  const lyra = body?.lyra_status;
  const s = lyra === CallCode.Timeout || lyra === CallCode.PayloadTooLarge || lyra === CallCode.Unavailable ? lyra : status;
  const ctor = byStatus[s as CallCode] ?? InternalError;
  const code = (byStatus[s as CallCode] ? s : CallCode.Internal) as CallCode;
  return new ctor(code, role, message, body);
}
