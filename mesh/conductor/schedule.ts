/**
 * When each inbox message runs. The messages of one conversation (one inbox subject) wait in a
 * queue of their own, oldest stream sequence first, and hold no slot: only the oldest asks the
 * inbox whether its turn has come (its predecessor may be running on another replica, or held by a
 * dead one until its ack wait ends), and only then does it take one of `maxParallel` slots. So a
 * conversation with a long queue, or one whose oldest message a dead conductor still holds, never
 * keeps the other conversations waiting, and the consumer is read on while they wait.
 */
import type { JsMsg } from "@nats-io/jetstream";
import { lifecycle, type Closable } from "../lifecycle.ts";

export interface SchedulerOptions<T extends { msg: JsMsg }> {
  /** Turns run at once. */
  maxParallel: number;
  /** How often the ack wait of every message held here (waiting or running) is renewed, ms. */
  progressMs: number;
  /**
   * Resolves true once `item` is the oldest message left on its subject, false when `signal` aborts
   * (an older message of the conversation arrived here, or the scheduler stops).
   */
  isTurn(item: T, signal: AbortSignal): Promise<boolean>;
  /** Runs the turn; it acknowledges or hands the message back itself and never rejects. */
  run(item: T): Promise<void>;
}

/** close() hands back every message not started (nak), then resolves when the running turns have ended. */
export interface Scheduler<T extends { msg: JsMsg }> extends Closable {
  /** Queues a delivered message behind the older ones of its subject held here. */
  add(item: T): void;
  /** Resolves when another message may be taken: fewer than maxParallel turns running or due to run. */
  room(): Promise<void>;
  /** Turns running now. */
  running(): number;
}

interface Queue<T> {
  items: T[];
  /** Aborted when the oldest item changes or the scheduler stops: the turn check starts over. */
  head: AbortController;
}

export function createScheduler<T extends { msg: JsMsg }>(o: SchedulerOptions<T>): Scheduler<T> {
  const queues = new Map<string, Queue<T>>();
  const running = new Set<T>();
  const pumps = new Set<Promise<void>>();
  let due = 0; // whose turn has come, waiting for a slot
  let free = o.maxParallel;
  let stopped = false;
  const slotWaiters: (() => void)[] = [];
  let roomWaiters: (() => void)[] = [];

  const progress = setInterval(() => {
    for (const q of queues.values()) for (const it of q.items) it.msg.working();
  }, o.progressMs);

  const wakeRoom = () => {
    if (!stopped && running.size + due >= o.maxParallel) return;
    const w = roomWaiters;
    roomWaiters = [];
    for (const r of w) r();
  };
  const takeSlot = () => {
    if (free > 0) {
      free--;
      return Promise.resolve();
    }
    return new Promise<void>((r) => slotWaiters.push(r));
  };
  const giveSlot = () => {
    const next = slotWaiters.shift();
    if (next) next();
    else free++;
  };

  const pump = async (subject: string, q: Queue<T>) => {
    while (!stopped && q.items.length) {
      const head = q.items[0]!;
      if (!(await o.isTurn(head, q.head.signal))) {
        if (q.head.signal.aborted && !stopped) q.head = new AbortController();
        continue;
      }
      due++;
      await takeSlot();
      due--;
      // While it waited for a slot, a redelivery may have replaced it (same sequence, newer
      // delivery) or the scheduler stopped.
      const item = q.items[0];
      if (stopped || !item || item.msg.seq !== head.msg.seq) {
        giveSlot();
        continue;
      }
      running.add(item);
      try {
        await o.run(item);
      } finally {
        running.delete(item);
        const at = q.items.indexOf(item);
        if (at >= 0) q.items.splice(at, 1);
        giveSlot();
        wakeRoom();
      }
    }
    if (queues.get(subject) === q && !q.items.length) queues.delete(subject);
  };

  return {
    add(item) {
      if (stopped) {
        item.msg.nak();
        return;
      }
      const subject = item.msg.subject;
      let q = queues.get(subject);
      const fresh = !q;
      q ??= { items: [], head: new AbortController() };
      queues.set(subject, q);
      const at = q.items.findIndex((x) => x.msg.seq >= item.msg.seq);
      if (at >= 0 && q.items[at]!.msg.seq === item.msg.seq) {
        // A redelivery of a message held here: the newest delivery is the one to answer, unless
        // its turn is already running (that one acknowledges it by its stream sequence).
        if (!running.has(q.items[at]!)) q.items[at] = item;
        return;
      }
      if (at === -1) q.items.push(item);
      else q.items.splice(at, 0, item);
      if (at === 0 && !fresh) q.head.abort(); // an older one than the head now waits here
      if (fresh) {
        const p: Promise<void> = pump(subject, q).finally(() => pumps.delete(p));
        pumps.add(p);
      }
    },
    room: () => (stopped || running.size + due < o.maxParallel ? Promise.resolve() : new Promise<void>((r) => roomWaiters.push(r))),
    running: () => running.size,
    ...lifecycle({
      close: async () => {
        stopped = true;
        for (const q of queues.values()) {
          q.head.abort();
          for (const it of q.items) if (!running.has(it)) it.msg.nak(); // another replica takes it now
          q.items = q.items.filter((it) => running.has(it));
        }
        for (const r of slotWaiters.splice(0)) r();
        wakeRoom();
        await Promise.allSettled([...pumps]);
        clearInterval(progress);
      },
    }),
  };
}
