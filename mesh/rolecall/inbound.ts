/** Turns an incoming request message into a validated request, or an InvalidBodyError. */
import { nuid } from "@nats-io/nats-core";
import { attachmentKind, decode, Encoding, encodingOf, Header, InvalidBodyError, RoleRequest, validate } from "../../schemas/index.ts";
import { claimOf, type RequestClaim } from "./claim.ts";

/**
 * What is read of a request message. Structural, because @nats-io/services brings its own copy of
 * nats-core and its message types are not nominally the connection's.
 */
export interface RequestMsg {
  readonly data: Uint8Array;
  readonly headers?: RequestHeaders;
  /** The reply subject: whose request this is (claim.ts). */
  readonly reply?: string;
}
export interface RequestHeaders {
  get(k: string): string;
}

/** A request ready to run. */
export interface Inbound {
  id: string;
  conversation: string | undefined;
  deadline: number;
  stream: boolean;
  /** The encoding replies use: the request's (plain text gets JSON). */
  encoding: Encoding;
  req: RoleRequest;
  /** The request's headers, for the handler (traceparent...). */
  headers: RequestHeaders | undefined;
  /** Who asked what: a request id serves only requests with the same claim (de-duplication, re-issue). */
  claim: RequestClaim;
}

// Request ids become a subject token (lyra.cancel.<id>), so they follow the token rule.
const REQUEST_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The reply encoding when the body cannot be decoded: msgpack only if it was declared. */
export function replyEncodingOf(msg: RequestMsg): Encoding {
  return encodingOf(msg.headers?.get(Header.ContentType)) === Encoding.Msgpack ? Encoding.Msgpack : Encoding.Json;
}

/** Decodes and validates a request; throws InvalidBodyError with the detail on any problem. */
export function parseInbound(msg: RequestMsg, defaultTimeoutMs: number, now = Date.now()): Inbound {
  const h = msg.headers;
  const decoded = decode(msg.data, h?.get(Header.ContentType) || undefined);
  const value = decoded.encoding === "text" ? { prompt: decoded.value } : decoded.value;
  const req = validate(RoleRequest, value, "role request");

  const id = h?.get(Header.RequestId) || req.id || nuid.next();
  if (!REQUEST_ID.test(id)) {
    throw new InvalidBodyError(`invalid request id '${id.slice(0, 140)}': use 1-128 letters, digits, '_' or '-'`);
  }
  let deadline = req.deadline ?? now + defaultTimeoutMs;
  const dh = h?.get(Header.Deadline);
  if (dh) {
    deadline = Number(dh);
    if (!Number.isSafeInteger(deadline) || deadline <= 0) {
      throw new InvalidBodyError(`invalid ${Header.Deadline} header '${dh.slice(0, 40)}': use epoch milliseconds`);
    }
  }
  const conversation = h?.get(Header.Conversation) || req.conversation;
  return {
    id,
    conversation,
    deadline,
    stream: h?.get(Header.Stream) === "1" || req.stream === true,
    encoding: decoded.encoding === Encoding.Msgpack ? Encoding.Msgpack : Encoding.Json,
    req,
    headers: h,
    claim: claimOf(msg.reply, req, conversation),
  };
}

/**
 * Refuses attachments a role cannot use (§5.1: MUST reject with 400 where attachments_ok is false)
 * and, where it can, any attachment that is neither an image nor text, before the request is
 * admitted, so the caller hears it at once and not from a failed model call.
 */
export function checkAttachments(req: RoleRequest, attachmentsOk: boolean, role: string): void {
  if (!req.attachments?.length) return;
  if (!attachmentsOk) {
    throw new InvalidBodyError(
      `role '${role}' does not take attachments (its prompt endpoint says attachments_ok: false); send the prompt ` +
        `without them or ask a vision role`,
    );
  }
  for (const a of req.attachments) attachmentKind(a);
}
