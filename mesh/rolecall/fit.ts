/**
 * Reply messages within the server's max_payload. nats.js refuses to publish a message whose body
 * and encoded headers together exceed it (it throws), so the sink sizes every message first:
 * response text is split across chunks (Agent Protocol clients concatenate them), anything else
 * that does not fit is reported, never dropped.
 */
import type { MsgHdrs } from "@nats-io/nats-core";
import { encode, type Encoding } from "../../schemas/index.ts";
import { MeshCode, MeshError } from "../errors.ts";

/** "NATS/1.0" and the blank line that ends the header block. */
const HEADER_FRAME = "NATS/1.0".length + 4;

/** Bytes of a header block as nats.js encodes it: `NATS/1.0`, `\r\nkey: value` each, `\r\n\r\n`. */
export function headerBytes(h: MsgHdrs | undefined): number {
  if (!h) return 0;
  let n = HEADER_FRAME;
  for (const [k, values] of h) for (const v of values) n += 4 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** What a message counts against max_payload: body and headers. */
export function messageBytes(data: Uint8Array, h: MsgHdrs | undefined): number {
  return data.length + headerBytes(h);
}

/** A piece of text that cannot be made to fit (max_payload below a chunk's own framing). */
export class TextTooLargeError extends MeshError {
  constructor(message: string) {
    super(MeshCode.TextTooLarge, message);
  }
}

/**
 * Cuts text into pieces whose `response` chunks, encoded, each take at most `budget` bytes. Never
 * cuts a surrogate pair. A piece has at most `budget` characters (each takes a byte at least), and
 * the first guess is shrunk until it fits: JSON escapes and multi-byte characters make the bytes
 * per character vary.
 */
export function splitResponseText(text: string, enc: Encoding, budget: number): string[] {
  const size = (t: string) => encode({ type: "response", data: t }, enc).length;
  const out: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    let n = Math.min(rest.length, Math.max(1, budget));
    let bytes = size(rest.slice(0, n));
    while (bytes > budget) {
      const next = cutPoint(rest, Math.min(n - 1, Math.floor((n * budget) / bytes)));
      if (next <= 0 || next >= n) throw new TextTooLargeError(`not even one character of response text fits in ${budget} bytes`);
      n = next;
      bytes = size(rest.slice(0, n));
    }
    n = cutPoint(rest, n);
    if (n <= 0) throw new TextTooLargeError(`not even one character of response text fits in ${budget} bytes`);
    out.push(rest.slice(0, n));
    rest = rest.slice(n);
  }
  return out;
}

/** `n`, or one less when `n` would fall between the halves of a surrogate pair. */
function cutPoint(s: string, n: number): number {
  if (n <= 0 || n >= s.length) return n;
  const c = s.charCodeAt(n);
  return c >= 0xdc00 && c <= 0xdfff ? n - 1 : n;
}
