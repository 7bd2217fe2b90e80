/**
 * Where one request's replies go. It owns the encoding, the keep-alive timer and the terminator,
 * and can be moved to a new reply subject when a re-issued request joins a running one.
 *
 * What a request's handler sends within one turn of the event loop goes out together (in order,
 * at setImmediate): the ack, an instant answer's chunks and the terminator then share one socket
 * write instead of taking one each.
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
  type CallCode,
  wireFormOf,
} from "../../schemas/index.ts";

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
}

export interface ReplySink {
  /** Whether the caller asked for the full chunk stream (deltas, tool events, final). */
  readonly stream: boolean;
  /** True once the terminator went out (or the connection refused a publish). */
  readonly finished: boolean;
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
  const info = chunk.type === "final" ? chunk.data : chunk.type === "response" && typeof chunk.data === "object" ? (chunk.data as Partial<FinalInfo>) : undefined;
  if (typeof info?.backend !== "string") return contentHeaders(enc);
  const h = headers();
  h.set(Header.ContentType, contentTypeOf(enc));
  h.set(Header.Backend, info.backend);
  if (info.fallback?.reason) h.set(Header.Fallback, info.fallback.reason);
  return h;
}

/**
 * Sends an error message and the terminator (§9.3). Only §9.2 codes go out: Lyra's 408 and 503
 * travel as the spec code wireFormOf gives, with the Lyra status in the body's `lyra_status`.
 */
export function replyError(msg: ReplyTarget, enc: Encoding, code: CallCode, message: string, extra?: Partial<ErrorBody>): void {
  if (!msg.reply) return;
  const error = extra?.error ?? wireErrorName[code];
  const wire = wireFormOf(code, error);
  const body: ErrorBody = { ...extra, error, message, ...(wire !== code ? { lyra_status: code } : {}) };
  const h = headers();
  h.set(Header.ContentType, contentTypeOf(enc));
  try {
    msg.respondError(wire, shortDescription(message), encode(body, enc), { headers: h });
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
  let msg = first;
  let stream = opts.stream;
  let encoding = opts.encoding;
  let finished = false;
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
      } catch {
        finish(); // closed connection: stop quietly, the job sees `finished`
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
  // Keep-alives go to every caller, streaming or not: a spec client's inactivity timeout (§6.6)
  // would otherwise end a long or queued answer that is still being worked on.
  const startKeepAlive = () => {
    if (timer || finished) return;
    timer = setInterval(() => {
      if (Date.now() - lastSent >= opts.keepAliveMs * 0.9) send({ type: "status", data: keepAliveText });
    }, opts.keepAliveMs);
  };
  const send = (chunk: Chunk) => {
    if (chunk.type !== "response" || typeof chunk.data !== "string") return publish(encode(chunk, encoding), chunkHeaders(chunk, encoding));
    if (finished) return;
    lastSent = Date.now();
    if (openDelta) {
      openDelta.text += chunk.data;
      return;
    }
    const delta = { text: chunk.data };
    const target = msg;
    const enc = encoding;
    enqueue(() => target.respond(encode({ type: "response", data: delta.text }, enc), { headers: contentHeaders(enc) }), delta);
  };

  startKeepAlive();
  return {
    get stream() {
      return stream;
    },
    get finished() {
      return finished;
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
      enqueue(() => replyError(target, enc, code, message, extra));
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
