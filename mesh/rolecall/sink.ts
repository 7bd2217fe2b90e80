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
import { contentTypeOf, encode, Header, Status, type Chunk, type Encoding, type ErrorBody, CallCode } from "../../schemas/index.ts";
import { headerBytes, messageBytes, splitResponseText, TextTooLargeError } from "./fit.ts";
import { chunkHeaders, contentHeaders, replyError, type ReplyTarget } from "./reply.ts";

export interface SinkOptions {
  stream: boolean;
  encoding: Encoding;
  host: string;
  /** The replica's instance id, sent on the ack (Lyra-Instance). */
  instance?: string;
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

/** One reply's state; the functions below each do one part of sending it. */
interface SinkState {
  readonly opts: SinkOptions;
  msg: ReplyTarget;
  stream: boolean;
  encoding: Encoding;
  finished: boolean;
  failure: SinkFailure | undefined;
  lastSent: number;
  keepAliveText: string;
  timer: NodeJS.Timeout | undefined;
  // Sends not yet handed to the connection, each bound to the reply subject of its time.
  outbox: Array<() => void>;
  flushing: NodeJS.Immediate | undefined;
  // The last queued text delta, still open: deltas produced in the same event-loop turn go out as
  // one `response` chunk (clients concatenate them anyway), so an instant model costs one message.
  openDelta: { text: string } | undefined;
}

export function createSink(first: ReplyTarget, opts: SinkOptions): ReplySink {
  const s: SinkState = {
    opts,
    msg: first,
    stream: opts.stream,
    encoding: opts.encoding,
    finished: false,
    failure: undefined,
    lastSent: 0,
    keepAliveText: Status.Working,
    timer: undefined,
    outbox: [],
    flushing: undefined,
    openDelta: undefined,
  };
  startKeepAlive(s);
  return {
    get stream() {
      return s.stream;
    },
    get finished() {
      return s.finished;
    },
    get failure() {
      return s.failure;
    },
    send: (chunk) => send(s, chunk),
    ack() {
      const h = headers();
      h.set(Header.ContentType, contentTypeOf(s.encoding));
      h.set(Header.Host, opts.host);
      if (opts.instance) h.set(Header.Instance, opts.instance);
      h.set(Header.KeepAlive, String(opts.keepAliveMs));
      if (opts.route) h.set(Header.Route, opts.route);
      publish(s, encode({ type: "status", data: Status.Ack }, s.encoding), h);
    },
    keepAlive(text) {
      s.keepAliveText = text;
    },
    error(code, message, extra) {
      if (s.finished) return;
      const target = s.msg;
      const enc = s.encoding;
      enqueue(s, () => replyError(target, enc, code, message, extra, opts.maxPayload));
      finish(s);
    },
    end() {
      publish(s, Empty);
      finish(s);
    },
    abandon: () => finish(s),
    retarget(next, nextStream, nextEncoding) {
      if (s.finished) return;
      s.openDelta = undefined; // it belongs to the old reply subject
      s.msg = next;
      s.encoding = nextEncoding;
      s.stream = nextStream;
    },
  };
}

function flush(s: SinkState): void {
  s.flushing = undefined;
  s.openDelta = undefined;
  const sends = s.outbox;
  s.outbox = [];
  for (const send of sends) {
    try {
      send();
    } catch (err) {
      // A publish the connection refused: closed (replyError then gives up quietly too), or
      // something the sizing missed. The rest is dropped; the caller hears why, and the
      // terminator ends the reply even when the sink had already queued its own.
      const code = err instanceof TextTooLargeError ? CallCode.PayloadTooLarge : CallCode.Internal;
      s.failure ??= { code, message: `the reply could not be sent: ${(err as Error).message}` };
      finish(s);
      replyError(s.msg, s.encoding, s.failure.code, s.failure.message, undefined, s.opts.maxPayload);
      return;
    }
  }
}

function enqueue(s: SinkState, send: () => void, delta?: { text: string }): void {
  s.openDelta = delta; // anything else queued closes the open delta, so order is kept
  s.outbox.push(send);
  s.flushing ??= setImmediate(() => flush(s));
}

function publish(s: SinkState, data: Uint8Array, h?: MsgHdrs): void {
  if (s.finished) return;
  const target = s.msg;
  enqueue(s, () => target.respond(data, h ? { headers: h } : undefined));
  s.lastSent = Date.now();
}

function finish(s: SinkState): void {
  s.finished = true;
  if (s.timer) clearInterval(s.timer);
  s.timer = undefined;
}

/** Ends the reply with an error of the sink's own: what was queued before it still goes out first. */
function fail(s: SinkState, code: CallCode, message: string): void {
  if (s.finished) return;
  s.failure = { code, message };
  const target = s.msg;
  const enc = s.encoding;
  finish(s);
  enqueue(s, () => replyError(target, enc, code, message, undefined, s.opts.maxPayload));
}

function tooLarge(s: SinkState, type: string, bytes: number): void {
  fail(
    s,
    CallCode.PayloadTooLarge,
    `the reply's ${type} chunk is ${bytes} bytes, over the server's max_payload of ${s.opts.maxPayload} bytes, and ` +
      `only response text can be split across messages; raise max_payload on the NATS servers or keep ${type} data under it`,
  );
}

function fits(s: SinkState, data: Uint8Array, h: MsgHdrs): boolean {
  return s.opts.maxPayload <= 0 || messageBytes(data, h) <= s.opts.maxPayload;
}

// Keep-alives go to every caller, streaming or not: a spec client's inactivity timeout (§6.6)
// would otherwise end a long or queued answer that is still being worked on.
function startKeepAlive(s: SinkState): void {
  if (s.timer || s.finished) return;
  s.timer = setInterval(() => {
    if (Date.now() - s.lastSent >= s.opts.keepAliveMs * 0.9) send(s, { type: "status", data: s.keepAliveText });
  }, s.opts.keepAliveMs);
}

/** Sends one text delta as one `response` chunk, or several when it is over max_payload. */
function sendDelta(s: SinkState, text: string): void {
  if (s.finished) return;
  s.lastSent = Date.now();
  if (s.openDelta) {
    s.openDelta.text += text;
    return;
  }
  const delta = { text };
  const target = s.msg;
  const enc = s.encoding;
  enqueue(
    s,
    () => {
      const h = contentHeaders(enc);
      const data = encode({ type: "response", data: delta.text }, enc);
      if (fits(s, data, h)) return void target.respond(data, { headers: h });
      for (const piece of splitResponseText(delta.text, enc, s.opts.maxPayload - headerBytes(h)))
        target.respond(encode({ type: "response", data: piece }, enc), { headers: h });
    },
    delta,
  );
}

function send(s: SinkState, chunk: Chunk): void {
  if (s.finished) return;
  if (chunk.type === "response" && typeof chunk.data === "string") return sendDelta(s, chunk.data);
  const h = chunkHeaders(chunk, s.encoding);
  const data = encode(chunk, s.encoding);
  if (fits(s, data, h)) return publish(s, data, h);
  if (chunk.type !== "response") return tooLarge(s, chunk.type, messageBytes(data, h));
  // A whole answer (not streamed): its text as deltas, then the metadata with the text's end
  // (empty), so a client that concatenates `response` chunks gets the same answer.
  const { text, ...meta } = chunk.data as Exclude<typeof chunk.data, string>;
  const last = encode({ type: "response", data: { ...meta, text: "" } }, s.encoding);
  if (!fits(s, last, h)) return tooLarge(s, "response metadata", messageBytes(last, h));
  sendDelta(s, text);
  publish(s, last, h);
}
