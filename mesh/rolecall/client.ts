/**
 * The caller side of role calls, where reliability lives: no-responders known at once, 429
 * retried with jitter, dead replicas presumed from a missing ack or keep-alive and the request
 * re-issued under the same id, every wait bounded by the call's deadline; a caller with nowhere
 * else to go waits an outage out until that deadline (onOutage "wait").
 */
import { nuid } from "@nats-io/nats-core";
import { assertFits, encode, RESUME_MAX_CHARS, RoleRequest, validate, type Chunk } from "../../schemas/index.ts";
import type { Mesh } from "../connect.ts";
import { CancelledError, ConnectionClosedError } from "../errors.ts";
import { subjects } from "../subjects.ts";
import { runCall, type Delivery } from "./call.ts";
import { createDispatcher, type DispatcherOptions } from "./dispatch.ts";
import { createMailbox, type Mailbox } from "./mailbox.ts";
import { createReplyRoutes } from "./replies.ts";
import {
  DEFAULT_CALL_TIMEOUT_MS,
  OnOutage,
  type CallOptions,
  type RoleCallInput,
  type RoleClient,
  type RoleResult,
  type RoleStream,
} from "./types.ts";

/** Defaults for every call of a client (each call may override them). */
export type RoleClientOptions = Pick<
  CallOptions,
  "timeoutMs" | "ackWindowMs" | "keepAliveGapMs" | "maxAttempts" | "onOutage" | "encoding" | "dispatch"
> & {
  /** Capacity-aware dispatch's options (warm-cache affinity on by default). */
  dispatcher?: Omit<DispatcherOptions, "now">;
};

export function createRoleClient(mesh: Mesh, defaults: RoleClientOptions = {}): RoleClient {
  const { nc } = mesh;
  const pending = new Map<Mailbox<Delivery>, Promise<unknown>>();
  const replies = createReplyRoutes(nc);
  // Watches the replicas' capacity state; off when the client's default turns dispatch off.
  const { dispatcher: dispatcherOptions, ...callDefaults } = defaults;
  const dispatcher = defaults.dispatch === false ? undefined : createDispatcher(nc, { region: mesh.region, ...dispatcherOptions });
  let closedErr: ConnectionClosedError | undefined;
  const failAll = (err: ConnectionClosedError) => {
    closedErr ??= err;
    for (const box of pending.keys()) box.fail(closedErr);
  };
  let resolveClosed!: () => void;
  const closedP = new Promise<void>((r) => (resolveClosed = r));
  const onConnectionClosed = () => {
    failAll(new ConnectionClosedError("role call"));
    resolveClosed();
  };
  void nc.closed().then(onConnectionClosed, onConnectionClosed);

  const start = async (role: string, input: RoleCallInput, o: CallOptions, onChunk: (c: Chunk) => void): Promise<RoleResult> => {
    if (closedErr) throw closedErr;
    const opts = { ...callDefaults, ...o };
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const { req, requestId, cancelSubject, encoding, body, resumeBody } = prepareRequest(mesh, role, input, opts);

    if (opts.signal?.aborted) throw new CancelledError(role, { cause: opts.signal.reason });

    const box = createMailbox<Delivery>();
    const onAbort = () => box.fail(new CancelledError(role, { cause: opts.signal?.reason }));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const conversation = opts.conversation ?? req.conversation;
    const run = runCall({
      nc,
      replies,
      role,
      body,
      resumeBody: opts.resume === false ? undefined : resumeBody,
      encoding,
      requestId,
      conversation,
      deadline: Date.now() + timeoutMs,
      ackWindowMs: opts.ackWindowMs ?? 1000,
      keepAliveGapMs: opts.keepAliveGapMs,
      maxAttempts: Math.max(1, opts.maxAttempts ?? 5),
      onOutage: opts.onOutage ?? OnOutage.Fail,
      headers: opts.headers ?? {},
      box,
      onChunk,
      route: dispatcher && opts.dispatch !== false ? () => dispatcher.pick(role, conversation) : undefined,
      onRouteFailed: (instance) => dispatcher?.forget(role, instance),
      onServed: conversation ? (instance) => dispatcher?.served(role, conversation, instance) : undefined,
    });
    pending.set(box, run);
    try {
      return await run;
    } catch (err) {
      // The responder may still be working for a caller that has gone: tell it to stop.
      if (box.failure && !nc.isClosed()) {
        try {
          nc.publish(cancelSubject);
        } catch {
          // draining: the responder's own deadline stops the work
        }
      }
      if (nc.isClosed() && !(err instanceof CancelledError)) throw closedErr ?? new ConnectionClosedError("role call", { cause: err });
      throw err;
    } finally {
      pending.delete(box);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  };

  const stream = (role: string, input: RoleCallInput, o: CallOptions = {}): RoleStream =>
    chunkStream((signal, onChunk) => start(role, input, { ...o, signal }, onChunk), o.signal);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      failAll(new ConnectionClosedError("role call (client closed)"));
      await Promise.allSettled([...pending.values()]);
      replies.close();
      dispatcher?.close();
      resolveClosed();
    })());

  return {
    call: (role, input, o = {}) => start(role, input, o, () => undefined),
    stream,
    pending: () => pending.size,
    drain: async () => {
      await Promise.allSettled([...pending.values()]);
    },
    close,
    closed: () => closedP,
    [Symbol.asyncDispose]: close,
  };
}

/** A call's request, checked and encoded before anything is sent. */
function prepareRequest(mesh: Mesh, role: string, input: RoleCallInput, opts: CallOptions) {
  subjects.role(role);
  const req = validate(RoleRequest, typeof input === "string" ? { prompt: input } : input, "role request");
  const requestId = opts.requestId ?? req.id ?? nuid.next();
  const cancelSubject = subjects.cancel(requestId); // validates the id as a subject token
  const encoding = opts.encoding ?? mesh.encoding;
  const sent = opts.conversation && !req.conversation ? { ...req, conversation: opts.conversation } : req;
  const body = encode(sent, encoding);
  assertFits(body, mesh.maxPayload(), `request to role '${role}'`);
  // Structured output is not continued (the grammar starts from the top), nor a text too long to carry.
  const resumeBody = (text: string): Uint8Array | undefined => {
    if (req.format || text.length > RESUME_MAX_CHARS) return undefined;
    const b = encode({ ...sent, resume: { text } }, encoding);
    return b.length <= mesh.maxPayload() ? b : undefined;
  };
  return { req, requestId, cancelSubject, encoding, body, resumeBody };
}

/** A call's chunks as an async iterable beside its result; leaving the loop early cancels the call. */
function chunkStream(start: (signal: AbortSignal, onChunk: (c: Chunk) => void) => Promise<RoleResult>, outer?: AbortSignal): RoleStream {
  const ctrl = new AbortController();
  const signal = outer ? AbortSignal.any([outer, ctrl.signal]) : ctrl.signal;
  const buffered: Chunk[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  const result = start(signal, (c) => {
    buffered.push(c);
    wake?.();
  });
  // This handler also keeps an unobserved `result` rejection from being reported as unhandled:
  // the iterator reports it to a caller who only iterates.
  const settled = result.then(
    () => undefined,
    (err: unknown) => err,
  );
  void settled.then(() => {
    done = true;
    wake?.();
  });
  const iterator: AsyncIterator<Chunk> = {
    async next() {
      for (;;) {
        if (buffered.length > 0) return { done: false, value: buffered.shift()! };
        if (done) {
          const err = await settled;
          if (err) throw err as Error;
          return { done: true, value: undefined };
        }
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
    // Leaving the loop early cancels the call.
    async return() {
      if (!done) ctrl.abort(new Error("stream consumer stopped early"));
      await settled;
      return { done: true, value: undefined };
    },
  };
  return { result, [Symbol.asyncIterator]: () => iterator };
}
