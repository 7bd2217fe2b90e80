/**
 * The conductor: consumes the inbox through one shared durable consumer, runs a turn per message,
 * acknowledges only after the reply is stored. Any number of replicas may run.
 *
 * Order: messages of one conversation are handled one at a time and oldest first, across
 * replicas, because a message is only started once it is the oldest left on its subject
 * (`lyra.inbox.<channel>.<conversation>`; the work queue deletes acknowledged messages).
 */
import { AckPolicy, jetstream, type ConsumerMessages, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { setTimeout as sleep } from "node:timers/promises";
import { Header, InboxMessage, type InboxMessage as Inbox } from "../../schemas/index.ts";
import { decodeBody, encodeBody } from "../publish.ts";
import { ensureStreams, StreamName, type StreamsConfig } from "../streams.ts";
import { subjects } from "../subjects.ts";
import type { Mesh } from "../connect.ts";
import { buildHistory, type HistoryLimits } from "./history.ts";
import { createLogCache } from "./logcache.ts";
import { runTurn, type TurnDeps } from "./turn.ts";
import { tracer } from "../telemetry.ts";
import type { CommitteeConfig, ConductorEvent, RoleCaller } from "./types.ts";

/** The durable inbox consumer every conductor replica shares (front doors check it has takers). */
export const CONDUCTOR_DURABLE = "lyra-core";

export interface ConductorOptions {
  roles: RoleCaller;
  fallback?: RoleCaller;
  committee: CommitteeConfig;
  streams?: StreamsConfig;
  history?: HistoryLimits;
  /** Durable consumer shared by all replicas; default "lyra-core". */
  durable?: string;
  /** Turns run at once by this replica; default 8. */
  maxParallel?: number;
  /** Deliveries before a message is dead-lettered; default 5. */
  maxDeliver?: number;
  /** Ack wait of the inbox consumer, ms; progress is signalled at a third of it; default 30000. */
  ackWaitMs?: number;
  /** Time allowed for one role call, ms; default 120000. */
  stepTimeoutMs?: number;
  /** Time in-flight turns get to finish on drain(), ms; default 15000. */
  graceMs?: number;
  /** Observer for tests and metrics. */
  onTurn?: (e: { conversation: string; id: string; ok: boolean; ms: number }) => void;
  /** Inbox lag, redeliveries, steps, fallbacks and dead letters, for metrics (mesh/conductor/metrics.ts). */
  onEvent?: (e: ConductorEvent) => void;
}

export interface Conductor extends AsyncDisposable {
  inFlight(): number;
  /** The inbox consumer's backlog: messages not yet delivered, and delivered but not yet acknowledged. */
  backlog(): Promise<{ pending: number; ackPending: number }>;
  /** Stop taking messages, let in-flight turns finish within graceMs, hand the rest back. */
  drain(): Promise<void>;
  close(): Promise<void>;
  closed(): Promise<void>;
}

export async function startConductor(mesh: Mesh, opts: ConductorOptions): Promise<Conductor> {
  const log = mesh.log.child({ component: "conductor" });
  const jsm = await ensureStreams(mesh, opts.streams);
  const js = jetstream(mesh.nc);
  const durable = opts.durable ?? CONDUCTOR_DURABLE;
  const ackWaitMs = opts.ackWaitMs ?? 30_000;
  const maxParallel = opts.maxParallel ?? 8;
  const maxDeliver = opts.maxDeliver ?? 5;
  await ensureConsumer(jsm, durable, ackWaitMs, maxParallel);
  const consumer = await js.consumers.get(StreamName.Inbox, durable);
  // A turn's history comes from this cache, checked against the log with one direct get.
  const logs = createLogCache(jsm, js, { keepTurns: (opts.history?.turns ?? 10) + 1 });
  const deps: TurnDeps = {
    mesh,
    js,
    log,
    roles: opts.roles,
    fallback: opts.fallback,
    committee: opts.committee,
    stepTimeoutMs: opts.stepTimeoutMs ?? 120_000,
    logged: (conversation, body, ack) => logs.appended(conversation, body, ack),
    onEvent: (e) => emit(e),
  };
  const emit = (e: ConductorEvent) => {
    try {
      opts.onEvent?.(e);
    } catch (err) {
      log.warn({ err }, "conductor event listener threw");
    }
  };

  const abort = new AbortController();
  const running = new Set<Promise<void>>();
  const chains = new Map<string, Promise<void>>(); // per conversation, within this replica
  let messages: ConsumerMessages | undefined;
  let slots = maxParallel;
  let slotFreed: (() => void) | undefined;

  const handle = async (m: JsMsg) => {
    const started = Date.now();
    emit({ type: "received", lagMs: Math.max(0, started - m.info.timestampNanos / 1e6), deliveries: m.info.deliveryCount });
    let inbox: Inbox;
    try {
      inbox = decodeBody(InboxMessage, m, "inbox message");
    } catch (err) {
      return deadLetter(m, (err as Error).message, "undecodable");
    }
    if (m.info.deliveryCount > maxDeliver) {
      return deadLetter(m, `gave up after ${m.info.deliveryCount - 1} deliveries`, "max_deliver", inbox);
    }
    // The front door's traceparent continues here: the turn is a span of the user's trace.
    const span = tracer().start("turn", m.headers?.get(Header.TraceParent), {
      kind: "consumer",
      attributes: { "lyra.conversation": inbox.conversation, "lyra.turn": inbox.id, "lyra.channel": inbox.channel, "lyra.deliveries": m.info.deliveryCount },
    });
    const turnLog = log.child({ conversation: inbox.conversation, turn: inbox.id, trace_id: span.traceId });
    turnLog.info({ deliveries: m.info.deliveryCount }, "turn started");
    const progress = setInterval(() => m.working(), Math.max(100, ackWaitMs / 3));
    try {
      if (!(await waitForTurn(m))) return span.end("handed back");
      const prior = await logs.read(inbox.conversation);
      const history = buildHistory(prior, inbox.id, opts.history);
      await runTurn({ ...deps, log: turnLog }, inbox, prior, history, abort.signal, span);
      await m.ackAck();
      span.end();
      turnLog.info({ ms: Date.now() - started }, "turn done");
      opts.onTurn?.({ conversation: inbox.conversation, id: inbox.id, ok: true, ms: Date.now() - started });
    } catch (err) {
      span.end(err);
      logs.forget(inbox.conversation); // the re-run reads what the log holds
      turnLog.error({ err }, "turn failed; the message will be redelivered");
      m.nak(abort.signal.aborted ? 0 : 1000);
      opts.onTurn?.({ conversation: inbox.conversation, id: inbox.id, ok: false, ms: Date.now() - started });
    } finally {
      clearInterval(progress);
    }
  };

  // True once `m` is the oldest message left on its subject; false if we gave it back instead.
  const waitForTurn = async (m: JsMsg) => {
    for (let wait = 20; !abort.signal.aborted; wait = Math.min(wait * 2, 500)) {
      const head = await jsm.direct.getMessage(StreamName.Inbox, { next_by_subj: m.subject, seq: 0 }).catch(() => null);
      if (!head || head.seq >= m.seq) return true;
      await sleep(wait);
      if (wait === 500 && Date.now() - m.info.timestampNanos / 1e6 > ackWaitMs * 4) break;
    }
    m.nak(1000);
    return false;
  };

  const deadLetter = async (m: JsMsg, reason: string, cause: "undecodable" | "max_deliver", inbox?: Inbox) => {
    const channel = m.subject.split(".")[2] ?? "unknown";
    log.warn({ subject: m.subject, seq: m.seq, reason }, "dead-lettering inbox message");
    const body = { ts: Date.now(), stream_seq: m.seq, subject: m.subject, deliveries: m.info.deliveryCount, reason, body_b64: Buffer.from(m.data).toString("base64") };
    try {
      const { data, headers } = encodeBody(mesh, body);
      await js.publish(subjects.dead(/^[A-Za-z0-9_-]+$/.test(channel) ? channel : "unknown"), data, { msgID: `dead:${m.seq}`, headers });
    } catch (err) {
      log.error({ err }, "could not store the dead letter; leaving the message for redelivery");
      m.nak(5000);
      return;
    }
    m.term(); // no reason: servers before 2.10.4 ignore "+TERM <reason>" and redeliver
    emit({ type: "dead_letter", cause });
    if (inbox) {
      logs.forget(inbox.conversation);
      // Best effort: the log itself may be what keeps failing.
      const ev = { type: "error", step: "inbox", code: "dead_letter", message: reason, ts: Date.now(), conversation: inbox.conversation, turn: inbox.id };
      const e = encodeBody(mesh, ev);
      await js
        .publish(subjects.log(inbox.conversation), e.data, { msgID: `${inbox.channel}:${inbox.id}:dead`, headers: e.headers })
        .catch((err: unknown) => log.warn({ err }, "could not log the dead letter"));
    }
  };

  const loop = (async () => {
    messages = await consumer.consume({ max_messages: maxParallel });
    for await (const m of messages) {
      while (slots === 0) await new Promise<void>((r) => (slotFreed = r));
      slots--;
      const conv = m.subject.split(".")[3] ?? "";
      const prev = chains.get(conv) ?? Promise.resolve();
      const p: Promise<void> = prev.then(() => handle(m)).finally(() => {
        if (chains.get(conv) === p) chains.delete(conv);
        running.delete(p);
        slots++;
        slotFreed?.();
        slotFreed = undefined;
      });
      chains.set(conv, p);
      running.add(p);
    }
  })().catch((err: unknown) => log.error({ err }, "inbox consumer stopped"));

  log.info({ durable, maxParallel }, "conductor consuming the inbox");
  let stopping: Promise<void> | undefined;
  const stop = (graceMs: number) =>
    (stopping ??= (async () => {
      messages?.stop();
      await loop;
      // In-flight turns get graceMs, then their role calls are aborted (the messages are redelivered).
      const timer = setTimeout(() => abort.abort(), graceMs);
      await Promise.allSettled([...running]);
      clearTimeout(timer);
      abort.abort();
      log.info("conductor stopped");
    })());
  return {
    inFlight: () => running.size,
    async backlog() {
      const i = await consumer.info(true);
      return { pending: i.num_pending, ackPending: i.num_ack_pending };
    },
    drain: () => stop(opts.graceMs ?? 15_000),
    close: () => stop(0),
    closed: () => stopping?.catch(() => undefined) ?? new Promise(() => undefined),
    [Symbol.asyncDispose]: () => stop(0),
  };
}

async function ensureConsumer(jsm: JetStreamManager, durable: string, ackWaitMs: number, maxParallel: number) {
  const cfg = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ackWaitMs),
    // Redelivery is unlimited here; the conductor dead-letters itself, with the reason.
    max_deliver: -1,
    max_ack_pending: Math.max(1000, maxParallel * 4),
  };
  const existing = await jsm.consumers.info(StreamName.Inbox, durable).catch(() => null);
  if (!existing) await jsm.consumers.add(StreamName.Inbox, cfg);
  else if (existing.config.ack_wait !== cfg.ack_wait) await jsm.consumers.update(StreamName.Inbox, durable, { ack_wait: cfg.ack_wait });
}
