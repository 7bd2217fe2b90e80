/**
 * Where one request's replies go. It owns the encoding, the keep-alive timer and the terminator,
 * and can be moved to a new reply subject when a re-issued request joins a running one.
 *
 * What a request's handler sends within one turn of the event loop goes out together (in order,
 * at setImmediate): the ack, an instant answer's chunks and the terminator then share one socket
 * write instead of taking one each.
 *
 * No message goes out over the server's max_payload (fit.ts): response text is split across
 * `response` chunks; any other chunk that does not fit ends the reply with a payload_too_large
 * error (Lyra's 413, a 500 on the wire) and the terminator. Whatever happens, a reply ends with the terminator
 * unless the connection itself is gone.
 */
import { Empty, headers, type MsgHdrs } from "@nats-io/nats-core";
import {
  contentTypeOf,
  encode,
  Header,
  Status,
  wireErrorName,
  type Chunk,
  type Encoding,
  type ErrorBody,
  type FinalInfo,
  CallCode,
  wireFormOf,
} from "../../schemas/index.ts";
import { headerBytes, messageBytes, splitResponseText, TextTooLargeError } from "./fit.ts";

/**
 * What the sink needs of a request message: a micro ReplyTarget fits. Structural, because
 * @nats-io/services brings its own copy of nats-core; its publish reads headers by shape.
 */
export interface ReplyTarget {
  readonly reply?: string;
  respond(data: Uint8Array, opts?: { headers?: MsgHdrs }): boolean;
  respondError(code: number, description: string, data: Uint8Array, opts: { headers: MsgHdrs }): boolean;
}

export interface SinkOptions {
  stream: boolean;
  encoding: Encoding;
  host: string;
  keepAliveMs: number;
  /** The caller's routing decision (Lyra-Route), echoed on the ack. */
  route?: string;
  /** The server's max_payload: no reply message is larger (0: no limit). */
  maxPayload: number;
}

export interface SinkFailure {
  code: CallCode;
  message: string;
}

export interface ReplySink {
  /** Whether the caller asked for the full chunk stream (deltas, tool events, final). */
  readonly stream: boolean;
  /** True once the terminator went out (or the connection refused a publish). */
  readonly finished: boolean;
  /** Why the sink ended the reply with an error of its own (a chunk over max_payload, a failed publish). */
  readonly failure: SinkFailure | undefined;
  /** Sends a chunk as is. */
  send(chunk: Chunk): void;
  /** Sends the ack with Lyra-Host: the first message of every admitted request (§6.4). */
  ack(): void;
  /** The text later keep-alives carry ("queued", "working", "loading"...). */
  keepAlive(text: string): void;
  /** Sends the error message and the terminator; `extra` refines the body (error name, retry_after_s). */
  error(code: CallCode, message: string, extra?: Partial<ErrorBody>): void;
  /** Sends the terminator. */
  end(): void;
  /** Stops sending without a terminator (the caller went away). */
  abandon(): void;
  /** Moves the rest of the output to a new request's reply subject. */
  retarget(msg: ReplyTarget, stream: boolean, encoding: Encoding): void;
}

// Shared per-encoding headers: publish serialises them, nothing mutates them after this.
const ctHeaders = new Map<Encoding, MsgHdrs>();
function contentHeaders(enc: Encoding): MsgHdrs {
  let h = ctHeaders.get(enc);
  if (!h) {
    h = headers();
    h.set(Header.ContentType, contentTypeOf(enc));
    ctHeaders.set(enc, h);
  }
  return h;
}

/** The answer's metadata goes in headers too (DESIGN §8): which backend answered, and why a fallback did. */
function chunkHeaders(chunk: Chunk, enc: Encoding): MsgHdrs {
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

export function createSink(first: ReplyTarget, opts: SinkOptions): ReplySink {
  const limit = opts.maxPayload;
  let msg = first;
  let stream = opts.stream;
  let encoding = opts.encoding;
  let finished = false;
  let failure: SinkFailure | undefined;
  let lastSent = 0;
  let keepAliveText: string = Status.Working;
  let timer: NodeJS.Timeout | undefined;
  // Sends not yet handed to the connection, each bound to the reply subject of its time.
  let outbox: Array<() => void> = [];
  let flushing: NodeJS.Immediate | undefined;
  // The last queued text delta, still open: deltas produced in the same event-loop turn go out as
  // one `response` chunk (clients concatenate them anyway), so an instant model costs one message.
  let openDelta: { text: string } | undefined;

  const flush = () => {
    flushing = undefined;
    openDelta = undefined;
    const sends = outbox;
    outbox = [];
    for (const s of sends) {
      try {
        s();
      } catch (err) {
        // A publish the connection refused: closed (replyError then gives up quietly too), or
        // something the sizing missed. The rest is dropped; the caller hears why, and the
        // terminator ends the reply even when the sink had already queued its own.
        const code = err instanceof TextTooLargeError ? CallCode.PayloadTooLarge : CallCode.Internal;
        failure ??= { code, message: `the reply could not be sent: ${(err as Error).message}` };
        finish();
        replyError(msg, encoding, failure.code, failure.message, undefined, limit);
        return;
      }
    }
  };
  const enqueue = (s: () => void, delta?: { text: string }) => {
    openDelta = delta; // anything else queued closes the open delta, so order is kept
    outbox.push(s);
    flushing ??= setImmediate(flush);
  };
  const publish = (data: Uint8Array, h?: MsgHdrs): void => {
    if (finished) return;
    const target = msg;
    enqueue(() => target.respond(data, h ? { headers: h } : undefined));
    lastSent = Date.now();
  };
  const finish = () => {
    finished = true;
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  /** Ends the reply with an error of the sink's own: what was queued before it still goes out first. */
  const fail = (code: CallCode, message: string) => {
    if (finished) return;
    failure = { code, message };
    const target = msg;
    const enc = encoding;
    finish();
    enqueue(() => replyError(target, enc, code, message, undefined, limit));
  };
  const tooLarge = (type: string, bytes: number) =>
    fail(
      CallCode.PayloadTooLarge,
      `the reply's ${type} chunk is ${bytes} bytes, over the server's max_payload of ${limit} bytes, and only response text can be split across messages; raise max_payload on the NATS servers or keep ${type} data under it`,
    );
  const fits = (data: Uint8Array, h: MsgHdrs) => limit <= 0 || messageBytes(data, h) <= limit;
  // Keep-alives go to every caller, streaming or not: a spec client's inactivity timeout (§6.6)
  // would otherwise end a long or queued answer that is still being worked on.
  const startKeepAlive = () => {
    if (timer || finished) return;
    timer = setInterval(() => {
      if (Date.now() - lastSent >= opts.keepAliveMs * 0.9) send({ type: "status", data: keepAliveText });
    }, opts.keepAliveMs);
  };
  /** Sends one text delta as one `response` chunk, or several when it is over max_payload. */
  const sendDelta = (text: string) => {
    if (finished) return;
    lastSent = Date.now();
    if (openDelta) {
      openDelta.text += text;
      return;
    }
    const delta = { text };
    const target = msg;
    const enc = encoding;
    enqueue(() => {
      const h = contentHeaders(enc);
      const data = encode({ type: "response", data: delta.text }, enc);
      if (fits(data, h)) return void target.respond(data, { headers: h });
      for (const piece of splitResponseText(delta.text, enc, limit - headerBytes(h)))
        target.respond(encode({ type: "response", data: piece }, enc), { headers: h });
    }, delta);
  };
  const send = (chunk: Chunk) => {
    if (finished) return;
    if (chunk.type === "response" && typeof chunk.data === "string") return sendDelta(chunk.data);
    const h = chunkHeaders(chunk, encoding);
    const data = encode(chunk, encoding);
    if (fits(data, h)) return publish(data, h);
    if (chunk.type !== "response") return tooLarge(chunk.type, messageBytes(data, h));
    // A whole answer (not streamed): its text as deltas, then the metadata with the text's end
    // (empty), so a client that concatenates `response` chunks gets the same answer.
    const { text, ...meta } = chunk.data as Exclude<typeof chunk.data, string>;
    const last = encode({ type: "response", data: { ...meta, text: "" } }, encoding);
    if (!fits(last, h)) return tooLarge("response metadata", messageBytes(last, h));
    sendDelta(text);
    publish(last, h);
  };

  startKeepAlive();
  return {
    get stream() {
      return stream;
    },
    get finished() {
      return finished;
    },
    get failure() {
      return failure;
    },
    send,
    ack() {
      const h = headers();
      h.set(Header.ContentType, contentTypeOf(encoding));
      h.set(Header.Host, opts.host);
      h.set(Header.KeepAlive, String(opts.keepAliveMs));
      if (opts.route) h.set(Header.Route, opts.route);
      publish(encode({ type: "status", data: Status.Ack }, encoding), h);
    },
    keepAlive(text) {
      keepAliveText = text;
    },
    error(code, message, extra) {
      if (finished) return;
      const target = msg;
      const enc = encoding;
      enqueue(() => replyError(target, enc, code, message, extra, limit));
      finish();
    },
    end() {
      publish(Empty);
      finish();
    },
    abandon: finish,
    retarget(next, nextStream, nextEncoding) {
      if (finished) return;
      openDelta = undefined; // it belongs to the old reply subject
      msg = next;
      encoding = nextEncoding;
      stream = nextStream;
    },
  };
}
