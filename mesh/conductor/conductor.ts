/**
 * The conductor: consumes the inbox through one shared durable consumer, runs a turn per message,
 * acknowledges only after the reply is stored. Any number of replicas may run.
 *
 * Order: messages of one conversation are handled one at a time and oldest first, across
 * replicas, because a message is only started once it is the oldest left on its subject
 * (`lyra.inbox.<channel>.<conversation>`; the work queue deletes acknowledged messages). Waiting
 * for that holds no slot (schedule.ts), and the subject, not the body, says whose message it is
 * (inbox.ts).
 */
import { AckPolicy, jetstream, type ConsumerMessages, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { setTimeout as sleep } from "node:timers/promises";
import { Header, type InboxMessage as Inbox } from "../../schemas/index.ts";
import { consumeDurable, ensureStreams, logAllowsAtomic, StreamName, type StreamsConfig } from "../streams.ts";
import type { Mesh } from "../connect.ts";
import type { Logger } from "../logger.ts";
import { buildHistory, type HistoryLimits } from "./history.ts";
import { admit, deadLetterer, foreignConversation, type Refusal } from "./inbox.ts";
import { createLogCache, type LogCache } from "./logcache.ts";
import { createScheduler } from "./schedule.ts";
import { refuseTurn, runTurn, type TurnDeps } from "./turn.ts";
import { addUsage, budgetRefusal, openBudgets, type BudgetOptions, type Budgets } from "./budget.ts";
import { tracer } from "../telemetry.ts";
import { lifecycle, type Drainable } from "../lifecycle.ts";
import type { CommitteeConfig, ConductorEvent, RoleCaller } from "./types.ts";
import { DEFAULT_CALL_TIMEOUT_MS } from "../rolecall/index.ts";
import { watchRollout } from "../rollout.ts";
import { createShadowRunner } from "./shadow.ts";

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
  /**
   * Store a step's log events as one atomic batch (nats-server 2.12+); default false. Where the server
   * or the stream has none, events go one at a time (and a log line says so).
   */
  atomicLog?: boolean;
  /** Shadow variants' calls at once (conductor.shadow_concurrency); past it a shadow is skipped; default 4. */
  shadowConcurrency?: number;
  /** Time in-flight turns get to finish on drain(), ms; default 15000. */
  graceMs?: number;
  /** Per-user daily budgets, checked when a message enters (budget.ts); default none. */
  budget?: BudgetOptions;
  /** Observer for tests and metrics. */
  onTurn?: (e: { conversation: string; id: string; ok: boolean; ms: number }) => void;
  /** Inbox lag, redeliveries, steps, fallbacks and dead letters, for metrics (mesh/conductor/metrics.ts). */
  onEvent?: (e: ConductorEvent) => void;
}

export interface Conductor extends Drainable {
  inFlight(): number;
  /** The inbox consumer's backlog: messages not yet delivered, and delivered but not yet acknowledged. */
  backlog(): Promise<{ pending: number; ackPending: number }>;
  /** Stop taking messages, let in-flight turns finish within graceMs, hand the rest back. */
  drain(): Promise<void>;
}

/** A message this replica holds, decoded. */
interface Held {
  msg: JsMsg;
  inbox: Inbox;
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
  const stepTimeoutMs = opts.stepTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const variants = opts.committee.variants ?? {};
  const rollout = Object.keys(variants).length ? await watchRollout(mesh, variants, log) : undefined;
  const shadows = rollout
    ? createShadowRunner({
        mesh,
        js,
        roles: opts.roles,
        log,
        concurrency: opts.shadowConcurrency,
        timeoutMs: stepTimeoutMs,
        onEvent: (e) => emit(e),
      })
    : undefined;
  const deps: TurnDeps = {
    mesh,
    js,
    jsm,
    log,
    roles: opts.roles,
    fallback: opts.fallback,
    committee: opts.committee,
    stepTimeoutMs,
    ...(rollout ? { rollout, shadows } : {}),
    logged: (conversation, event, ack) => logs.appended(conversation, event, ack),
    atomicLog: { on: opts.atomicLog === true && (await atomicOrSay(jsm, log)) },
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
  const refusals = new Set<Promise<void>>();
  let messages: ConsumerMessages | undefined;
  const deadLetter = deadLetterer(mesh, js, log, (cause, conversation) => {
    if (conversation) logs.forget(conversation);
    emit({ type: "dead_letter", cause });
  });
  const refuse = (m: JsMsg, refused: Refusal) => {
    const p: Promise<void> = deadLetter(m, refused).finally(() => refusals.delete(p));
    refusals.add(p);
  };

  const budgets = opts.budget ? await openBudgets(mesh, opts.budget) : undefined;
  const runner: HeldRunner = { deps, logs, deadLetter, signal: abort.signal, history: opts.history, onTurn: opts.onTurn, budgets };
  const sched = createScheduler<Held>({
    maxParallel,
    progressMs: Math.max(100, ackWaitMs / 3),
    isTurn: ({ msg: m }, signal) => isOldestOnSubject(jsm, log, m, signal),
    run: (held) => runHeld(runner, held),
  });

  const loop = (async () => {
    messages = await consumeDurable(consumer, maxParallel);
    for await (const m of messages) {
      emit({ type: "received", lagMs: Math.max(0, Date.now() - m.info.timestampNanos / 1e6), deliveries: m.info.deliveryCount });
      const a = admit(m, maxDeliver);
      if (a.ok) sched.add({ msg: m, inbox: a.inbox });
      else refuse(m, a);
      // Messages waiting behind their conversation hold no slot: read on while turns can start.
      await sched.room();
    }
  })().catch((err: unknown) => log.error({ err }, "inbox consumer stopped"));

  log.info({ durable, maxParallel }, "conductor consuming the inbox");
  const stop = async (graceMs: number) => {
    messages?.stop();
    // In-flight turns get graceMs, then their role calls are aborted (the messages are redelivered);
    // messages not started are handed back at once.
    const timer = setTimeout(() => abort.abort(), graceMs);
    await sched.close();
    await loop;
    await Promise.allSettled([...refusals]);
    clearTimeout(timer);
    abort.abort();
    rollout?.close();
    await shadows?.close();
    log.info("conductor stopped");
  };
  return {
    inFlight: () => sched.running(),
    async backlog() {
      const i = await consumer.info(); // not the cached info: that is the backlog at start
      return { pending: i.num_pending, ackPending: i.num_ack_pending };
    },
    ...lifecycle({ drain: () => stop(opts.graceMs ?? 15_000), close: () => stop(0) }),
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

/** What running a held message needs of the conductor. */
interface HeldRunner {
  deps: TurnDeps;
  logs: LogCache;
  deadLetter: (m: JsMsg, refused: Refusal) => Promise<void>;
  /** Aborted when the conductor stops: the turn's role calls end and the message is redelivered. */
  signal: AbortSignal;
  history: HistoryLimits | undefined;
  onTurn: ConductorOptions["onTurn"];
  budgets: Budgets | undefined;
}

/** Runs the turn of a held message inside a span of the user's trace; acks it when done, naks it to be redelivered when not. */
async function runHeld(r: HeldRunner, { msg: m, inbox }: Held): Promise<void> {
  const { deps, logs } = r;
  const started = Date.now();
  // The front door's traceparent continues here: the turn is a span of the user's trace.
  const span = tracer().start("turn", m.headers?.get(Header.TraceParent), {
    kind: "consumer",
    attributes: {
      "lyra.conversation": inbox.conversation,
      "lyra.turn": inbox.id,
      "lyra.channel": inbox.channel,
      "lyra.deliveries": m.info.deliveryCount,
    },
  });
  const turnLog = deps.log.child({ conversation: inbox.conversation, turn: inbox.id, trace_id: span.traceId });
  turnLog.info({ deliveries: m.info.deliveryCount }, "turn started");
  try {
    const prior = await logs.read(inbox.conversation);
    const foreign = foreignConversation(inbox, prior);
    if (foreign) {
      span.end("refused");
      return await r.deadLetter(m, foreign);
    }
    // A re-run (steps of the turn in the log) was admitted the first time: it finishes.
    const rerun = prior.some((e) => e.turn === inbox.id);
    const refused = r.budgets && !rerun ? await budgetRefusal(r.budgets, inbox.user.id, turnLog) : undefined;
    if (refused) {
      await refuseTurn({ ...deps, log: turnLog }, inbox, r.signal, "budget_spent", refused);
      turnLog.info({ user: inbox.user.id }, "the user's daily budget is spent; answered without a model call");
    } else {
      const history = buildHistory(prior, inbox.id, r.history);
      const t = await runTurn({ ...deps, log: turnLog }, inbox, prior, history, r.signal, span);
      if (r.budgets) await addUsage(r.budgets, inbox.user.id, t.calls, turnLog);
    }
    await m.ackAck();
    span.end();
    turnLog.info({ ms: Date.now() - started }, "turn done");
    r.onTurn?.({ conversation: inbox.conversation, id: inbox.id, ok: true, ms: Date.now() - started });
  } catch (err) {
    span.end(err);
    logs.forget(inbox.conversation); // the re-run reads what the log holds
    turnLog.error({ err }, "turn failed; the message will be redelivered");
    m.nak(r.signal.aborted ? 0 : 1000);
    r.onTurn?.({ conversation: inbox.conversation, id: inbox.id, ok: false, ms: Date.now() - started });
  }
}

/**
 * True once `m` is the oldest message left on its subject (the work queue deletes acknowledged
 * ones), false when `signal` aborts. It holds no slot while it asks. A failed check is asked
 * again: starting on a guess could run a conversation's turns out of order.
 */
async function isOldestOnSubject(jsm: JetStreamManager, log: Logger, m: JsMsg, signal: AbortSignal): Promise<boolean> {
  let warned = false;
  for (let wait = 20; !signal.aborted; wait = Math.min(wait * 2, 500)) {
    const head = await jsm.direct.getMessage(StreamName.Inbox, { next_by_subj: m.subject, seq: 0 }).catch((err: unknown) => {
      if (!warned) log.warn({ err, subject: m.subject }, "cannot read the oldest inbox message of the conversation; asking again");
      warned = true;
      return undefined;
    });
    if (signal.aborted) break;
    if (head === null || (head && head.seq >= m.seq)) return true;
    await sleep(wait, undefined, { signal }).catch(() => undefined);
  }
  return false;
}

/** Whether the log takes atomic batches; when not, says that events go one at a time. */
async function atomicOrSay(jsm: JetStreamManager, log: Logger): Promise<boolean> {
  if (await logAllowsAtomic(jsm)) return true;
  log.warn("atomic_log is on, but the log stream takes no atomic batches (nats-server 2.12+): log events are stored one at a time");
  return false;
}
