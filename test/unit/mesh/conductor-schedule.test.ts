import { describe, expect, it } from "vitest";
import type { JsMsg } from "@nats-io/jetstream";
import { createScheduler, type Scheduler } from "../../../mesh/conductor/schedule.ts";

/** Just what the scheduler touches of a delivered message. */
interface Fake {
  msg: JsMsg;
  naks: number;
  id: string;
}
const fake = (subject: string, seq: number, id = `${subject}#${seq}`): Fake => {
  const f: Fake = { naks: 0, id, msg: undefined as unknown as JsMsg };
  f.msg = { subject, seq, working: () => undefined, nak: () => void f.naks++ } as unknown as JsMsg;
  return f;
};

/** A scheduler whose turn check reads `oldest` (the inbox's oldest sequence per subject) and whose turns end when told. */
function harness(maxParallel: number) {
  const oldest = new Map<string, number>();
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const checks = new Set<() => void>();
  const sched: Scheduler<Fake> = createScheduler<Fake>({
    maxParallel,
    progressMs: 60_000,
    isTurn: (f, signal) =>
      new Promise<boolean>((resolve) => {
        const check = () => {
          if (signal.aborted) return done(false);
          if ((oldest.get(f.msg.subject) ?? f.msg.seq) >= f.msg.seq) done(true);
        };
        const done = (v: boolean) => {
          checks.delete(check);
          resolve(v);
        };
        signal.addEventListener("abort", check, { once: true });
        checks.add(check);
        check();
      }),
    run: (f) =>
      new Promise<void>((resolve) => {
        started.push(f.id);
        finish.set(f.id, () => {
          const subj = f.msg.subject;
          oldest.set(subj, f.msg.seq + 1); // acknowledged: the work queue deletes it
          resolve();
        });
      }),
  });
  const settle = () => new Promise((r) => setTimeout(r, 5));
  return {
    sched,
    oldest,
    started,
    async end(id: string) {
      finish.get(id)!();
      await settle();
      for (const c of [...checks]) c();
      await settle();
    },
    settle,
  };
}

describe("conductor scheduler", () => {
  it("messages behind their own conversation hold no slot: another conversation starts at once", async () => {
    const h = harness(2);
    for (let s = 1; s <= 5; s++) h.sched.add(fake("a", s));
    h.sched.add(fake("b", 6));
    await h.settle();
    expect(h.started).toEqual(["a#1", "b#6"]);
    expect(h.sched.running()).toBe(2);
    await h.end("a#1");
    expect(h.started).toEqual(["a#1", "b#6", "a#2"]);
  });

  it("room() waits only while every slot is taken by a running turn", async () => {
    const h = harness(1);
    for (let s = 1; s <= 3; s++) h.sched.add(fake("a", s));
    await h.settle();
    let roomy = false;
    void h.sched.room().then(() => (roomy = true));
    await h.settle();
    expect(roomy).toBe(false); // a#1 runs in the one slot
    await h.end("a#1");
    await h.settle();
    // a#2 runs now, but room() resolved when a#1 ended: the loop may read the next message.
    expect(roomy).toBe(true);
  });

  it("waits for a predecessor held elsewhere without a slot, and a redelivered older message goes first", async () => {
    const h = harness(1);
    h.oldest.set("a", 1); // a#1 is held by another (dead) conductor
    h.sched.add(fake("a", 2));
    h.sched.add(fake("b", 3));
    await h.settle();
    expect(h.started).toEqual(["b#3"]);
    h.sched.add(fake("a", 1, "a#1 redelivered"));
    await h.end("b#3");
    expect(h.started).toEqual(["b#3", "a#1 redelivered"]);
    await h.end("a#1 redelivered");
    expect(h.started).toEqual(["b#3", "a#1 redelivered", "a#2"]);
  });

  it("a redelivery of a waiting message replaces it; of a running one is ignored", async () => {
    const h = harness(1);
    h.sched.add(fake("a", 1));
    h.sched.add(fake("a", 2));
    await h.settle();
    h.sched.add(fake("a", 1, "a#1 again"));
    h.sched.add(fake("a", 2, "a#2 again"));
    await h.end("a#1");
    expect(h.started).toEqual(["a#1", "a#2 again"]);
  });

  it("close() hands back every message not started and waits for the running turn", async () => {
    const h = harness(1);
    const msgs = [fake("a", 1), fake("a", 2), fake("b", 3)];
    for (const f of msgs) h.sched.add(f);
    await h.settle();
    let stopped = false;
    const stopping = h.sched.close().then(() => (stopped = true));
    await h.settle();
    expect(msgs.map((f) => f.naks)).toEqual([0, 1, 1]);
    expect(stopped).toBe(false);
    await h.end("a#1");
    await stopping;
    expect(h.started).toEqual(["a#1"]);
    const late = fake("c", 4);
    h.sched.add(late);
    expect(late.naks).toBe(1);
  });
});
