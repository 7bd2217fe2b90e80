/**
 * The checks a role request passes before it may be admitted: the role is taking work, the
 * message fits, the body parses, its attachments are welcome, its deadline is still ahead.
 */
import { CallCode, InvalidBodyError, SHUTTING_DOWN, WireCode } from "../../schemas/index.ts";
import { checkAttachments, parseInbound, replyEncodingOf, type Inbound } from "./inbound.ts";
import type { RequestIn } from "./service.ts";

/** Why a request is refused before admission: what the error reply says. */
export interface Refusal {
  readonly encoding: Inbound["encoding"];
  readonly id?: string | undefined;
  readonly code: CallCode;
  readonly text: string;
  readonly retryAfterS?: number;
  /** The error name in the body, when not the code's own. */
  readonly error?: string;
}

export interface ScreenLimits {
  role: string;
  host: string;
  /** This role's max_payload (0: none). */
  maxPayload: number;
  defaultTimeoutMs: number;
  attachmentsOk: boolean;
}

/** The parsed request, a refusal, or undefined for a publish without a reply subject (it asks nothing). */
export function screenRequest(
  msg: RequestIn,
  o: ScreenLimits,
  accepting: boolean,
): { inbound: Inbound } | { refusal: Refusal } | undefined {
  if (!accepting) {
    const text = `role '${o.role}' on ${o.host} is shutting down`;
    return { refusal: { encoding: replyEncodingOf(msg), code: CallCode.Unavailable, text, retryAfterS: 1, error: SHUTTING_DOWN } };
  }
  if (o.maxPayload > 0 && msg.data.length > o.maxPayload) {
    // §5.4: agents MAY enforce the advertised limit too (a smaller one than the server's).
    const text = `request is ${msg.data.length} bytes, over this role's max_payload of ${o.maxPayload} bytes`;
    return { refusal: { encoding: replyEncodingOf(msg), code: WireCode.BadRequest, text } };
  }
  let inb: Inbound;
  try {
    inb = parseInbound(msg, o.defaultTimeoutMs);
    checkAttachments(inb.req, o.attachmentsOk, o.role);
  } catch (err) {
    const text = err instanceof InvalidBodyError ? err.message : `invalid request: ${String(err)}`;
    return { refusal: { encoding: replyEncodingOf(msg), code: WireCode.BadRequest, text } };
  }
  if (!msg.reply) return undefined;
  if (inb.deadline <= Date.now()) {
    return {
      refusal: { encoding: inb.encoding, id: inb.id, code: CallCode.Timeout, text: "deadline already passed; the work was dropped" },
    };
  }
  return { inbound: inb };
}
