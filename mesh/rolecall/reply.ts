/**
 * The reply messages every role reply is made of: the content headers, the answer's metadata
 * headers, and the error reply (an error message, then the terminator) that ends a reply early.
 */
import { Empty, headers, type MsgHdrs } from "@nats-io/nats-core";
import {
  contentTypeOf,
  encode,
  Header,
  wireErrorName,
  type Chunk,
  type Encoding,
  type ErrorBody,
  type FinalInfo,
  CallCode,
  wireFormOf,
} from "../../schemas/index.ts";
import { messageBytes } from "./fit.ts";

/**
 * What the sink needs of a request message: a micro ReplyTarget fits. Structural, because
 * @nats-io/services brings its own copy of nats-core; its publish reads headers by shape.
 */
export interface ReplyTarget {
  readonly reply?: string;
  respond(data: Uint8Array, opts?: { headers?: MsgHdrs }): boolean;
  respondError(code: number, description: string, data: Uint8Array, opts: { headers: MsgHdrs }): boolean;
}

// Shared per-encoding headers: publish serialises them, nothing mutates them after this.
const ctHeaders = new Map<Encoding, MsgHdrs>();
export function contentHeaders(enc: Encoding): MsgHdrs {
  let h = ctHeaders.get(enc);
  if (!h) {
    h = headers();
    h.set(Header.ContentType, contentTypeOf(enc));
    ctHeaders.set(enc, h);
  }
  return h;
}

/** The answer's metadata goes in headers too (DESIGN §8): which backend answered, and why a fallback did. */
export function chunkHeaders(chunk: Chunk, enc: Encoding): MsgHdrs {
  const info =
    chunk.type === "final"
      ? chunk.data
      : chunk.type === "response" && typeof chunk.data === "object"
        ? (chunk.data as Partial<FinalInfo>)
        : undefined;
  if (typeof info?.backend !== "string") return contentHeaders(enc);
  const h = headers();
  h.set(Header.ContentType, contentTypeOf(enc));
  h.set(Header.Backend, info.backend);
  if (info.fallback?.reason) h.set(Header.Fallback, info.fallback.reason);
  return h;
}

/**
 * Sends an error message and the terminator (§9.3). Only §9.2 codes go out: Lyra's 408, 413 and
 * 503 travel as the spec code wireFormOf gives, with the Lyra status in the body's `lyra_status`.
 * A message too long for `maxPayload` is cut to fit; the terminator goes out even when the error
 * cannot.
 */
export function replyError(
  msg: ReplyTarget,
  enc: Encoding,
  code: CallCode,
  message: string,
  extra?: Partial<ErrorBody>,
  maxPayload = 0,
): void {
  if (!msg.reply) return;
  const error = extra?.error ?? wireErrorName[code];
  const wire = wireFormOf(code, error);
  const description = shortDescription(message);
  const h = headers();
  h.set(Header.ContentType, contentTypeOf(enc));
  // Set here as respondError sets them, so the size below counts them.
  h.set(Header.ErrorCode, String(wire));
  h.set(Header.Error, description);
  const bodyOf = (m: string) =>
    encode({ ...extra, error, message: m, ...(wire !== code ? { lyra_status: code } : {}) } satisfies ErrorBody, enc);
  let data = bodyOf(message);
  for (let keep = message.length; maxPayload > 0 && messageBytes(data, h) > maxPayload && keep > 0;) {
    keep = Math.floor(keep * Math.min(0.9, maxPayload / messageBytes(data, h)));
    data = bodyOf(`${message.slice(0, keep).replace(/[\ud800-\udbff]$/, "")}... (cut to fit max_payload)`);
  }
  try {
    msg.respondError(wire, description, data, { headers: h });
  } catch {
    // the connection is closing, or the error body alone is over max_payload: the terminator still ends the reply
  }
  try {
    msg.respond(Empty);
  } catch {
    // the connection is closing: nobody can be told
  }
}

function shortDescription(message: string): string {
  // Header values cannot carry line breaks, and a tap should stay readable.
  const one = message.replace(/[\r\n]+/g, " ");
  return one.length > 200 ? `${one.slice(0, 197)}...` : one;
}
