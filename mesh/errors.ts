/**
 * Errors of mesh/. Local errors (configuration, connection) carry a string code and never go on
 * the wire. Wire errors (RoleCallError) are rebuilt from the NATS micro error headers.
 */
import { WireCode, wireErrorName, type ErrorBody } from "../schemas/index.ts";

export class MeshError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The connection closed while a call or handler was pending. */
export class ConnectionClosedError extends MeshError {
  constructor(what = "operation", options?: { cause?: unknown }) {
    super("connection_closed", `${what} failed: the NATS connection is closed`, options);
  }
}

/** An error a role answered with, or one the caller concluded (no responders, deadline). */
export class RoleCallError extends MeshError {
  readonly status: WireCode;
  readonly role: string;
  readonly retryAfterS: number | undefined;
  readonly body: ErrorBody | undefined;
  constructor(status: WireCode, role: string, message: string, body?: ErrorBody, options?: { cause?: unknown }) {
    super(body?.error ?? wireErrorName[status], `role '${role}': ${message}`, options);
    this.status = status;
    this.role = role;
    this.body = body;
    this.retryAfterS = body?.retry_after_s;
  }
}
export class BadRequestError extends RoleCallError {}
export class ForbiddenError extends RoleCallError {}
export class NotFoundError extends RoleCallError {}
export class DeadlineExceededError extends RoleCallError {}
export class ConflictError extends RoleCallError {}
export class BusyError extends RoleCallError {}
export class InternalError extends RoleCallError {}
/** No agent serves the role (NATS no-responders), or the agent has no working backend. */
export class UnavailableError extends RoleCallError {}
/** The caller aborted the call. */
export class CancelledError extends MeshError {
  constructor(role: string, options?: { cause?: unknown }) {
    super("cancelled", `role '${role}': call cancelled`, options);
  }
}

const byStatus: Record<WireCode, typeof RoleCallError> = {
  [WireCode.BadRequest]: BadRequestError,
  [WireCode.Forbidden]: ForbiddenError,
  [WireCode.NotFound]: NotFoundError,
  [WireCode.Timeout]: DeadlineExceededError,
  [WireCode.Conflict]: ConflictError,
  [WireCode.Busy]: BusyError,
  [WireCode.Internal]: InternalError,
  [WireCode.Unavailable]: UnavailableError,
};

/** Rebuilds the typed error for a wire code. Unknown codes become InternalError. */
export function roleCallError(status: number, role: string, message: string, body?: ErrorBody): RoleCallError {
  const ctor = byStatus[status as WireCode] ?? InternalError;
  const code = (byStatus[status as WireCode] ? status : WireCode.Internal) as WireCode;
  return new ctor(code, role, message, body);
}
