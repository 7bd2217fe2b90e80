/**
 * The dispatcher's choices from capacity states it is fed (a subscription double stands in for
 * the state feed, which the integration tests run on a real server): warm-cache affinity and its
 * overrides, the bounded memory of conversations, round robin for baselines.
 */
import type { Msg, MsgCallback, NatsConnection } from "@nats-io/nats-core";
import { describe, expect, it } from "vitest";
import { createDispatcher, STALE_MS, type DispatcherOptions } from "../../../mesh/rolecall/dispatch.ts";
import type { ReplicaState } from "../../../schemas/index.ts";

const ROLE = "specialist";

function setup(o: DispatcherOptions = {}) {
  let feed: MsgCallback<Msg> | undefined;
  const nc = {
    subscribe: (_subject: string, opts: { callback: MsgCallback<Msg> }) => {
      feed = opts.callback;
      return { unsubscribe() {} };
    },
    isClosed: () => false,
  } as unknown as NatsConnection;
  let t = 1_000_000;
  const d = createDispatcher(nc, { now: () => t, ...o });
  const state = (host: string, s: Partial<ReplicaState> = {}) => {
    const full: ReplicaState = {
      role: ROLE,
      instance: `i-${host}`,
      host,
      loaded: true,
      slots: 4,
      in_flight: 0,
      queue_depth: 0,
      queue_size: 4,
      degraded: false,
      ts: t,
      ...s,
    };
    void feed!(null, { json: () => full } as unknown as Msg);
  };
  /** A pick whose call has ended at once (so this client's own calls do not add to the load). */
  const pick = (conversation: string, role = ROLE) => {
    const r = d.pick(role, conversation);
    r.release?.();
    return r;
  };
  return { d, pick, state, advance: (ms: number) => (t += ms) };
}

describe("warm-cache affinity in the dispatcher", () => {
  it("keeps a conversation on its replica and counts its turns", () => {
    const { d, pick, state } = setup();
    state("a");
    state("b");
    const first = pick("c1");
    d.served(ROLE, "c1", first.instance!);
    for (let turn = 1; turn <= 3; turn++) {
      const r = pick("c1");
      expect(r.instance).toBe(first.instance);
      expect(r.reason).toMatch(new RegExp(`affinity: served this conversation's turn ${turn}`));
      d.served(ROLE, "c1", r.instance!);
    }
  });

  it("leaves a replica that is overloaded, cold, degraded or stale", () => {
    const { d, pick, state, advance } = setup();
    state("a", { in_flight: 4, queue_depth: 1 });
    state("b", { in_flight: 2 });
    d.served(ROLE, "c1", "i-a");
    expect(pick("c1").reason).toMatch(/^b: .*affinity to a overridden: overloaded \(5 in flight, others 2 on average/);
    state("a", { in_flight: 4 });
    state("b", { in_flight: 2 });
    expect(pick("c1").instance).toBe("i-a"); // 4 is not over 2 × 2
    state("a", { in_flight: 3 });
    state("b", { in_flight: 0 });
    expect(pick("c1").instance).toBe("i-a"); // a free slot keeps it
    state("a", { loaded: false });
    expect(pick("c1").reason).toMatch(/overridden: model cold/);
    state("a", { degraded: true });
    expect(pick("c1").reason).toMatch(/overridden: degraded/);
    state("a");
    advance(STALE_MS + 1);
    state("b");
    expect(pick("c1").instance).toBe("i-b");
  });

  it("forgets the least recently used conversation past its bound", () => {
    const { d, pick, state } = setup({ affinityEntries: 2 });
    state("a");
    state("b");
    d.served(ROLE, "c1", "i-a");
    d.served(ROLE, "c2", "i-a");
    d.served(ROLE, "c1", "i-a"); // c1 used again: c2 is now the oldest
    d.served(ROLE, "c3", "i-a");
    expect(pick("c1").reason).toMatch(/affinity/);
    expect(pick("c3").reason).toMatch(/affinity/);
    expect(pick("c2").reason).not.toMatch(/affinity/);
  });

  it("is routing only per conversation and role, and off on request", () => {
    const { d, pick, state } = setup();
    state("a");
    state("b");
    d.served(ROLE, "c1", "i-a");
    expect(pick("c1", "voice").reason).toMatch(/no replica state/);
    expect(pick("c2").reason).not.toMatch(/affinity/);
    const off = setup({ affinity: false });
    off.state("a");
    off.d.served(ROLE, "c1", "i-a");
    expect(off.pick("c1").reason).not.toMatch(/affinity/);
  });

  it("alternates equally good replicas with roundRobin", () => {
    const { pick, state } = setup({ roundRobin: true, affinity: false });
    state("a");
    state("b");
    const picks = [0, 1, 2, 3].map(() => pick("c1").instance);
    expect(picks).toEqual(["i-a", "i-b", "i-a", "i-b"]);
  });
});

describe("regions in the dispatcher", () => {
  it("stays in the caller's region while it has a healthy replica, whatever the load elsewhere", () => {
    const { pick, state } = setup({ region: "a", affinity: false });
    state("a1", { region: "a", in_flight: 4, queue_depth: 2 });
    state("b1", { region: "b" });
    state("b2", { region: "b" });
    for (let i = 0; i < 20; i++) {
      const r = pick(`c${i}`);
      expect(r.instance).toBe("i-a1");
      expect(r.reason).toMatch(/^a1 \(region a\): model warm, 0 of 4 slots free, 2 queued \(best of 1 in region a\)$/);
    }
  });

  it("falls back to another region when the local replicas are degraded, stale or gone, and returns", () => {
    const { pick, state, advance } = setup({ region: "a", affinity: false });
    state("a1", { region: "a", degraded: true });
    state("b1", { region: "b" });
    expect(pick("c1").reason).toMatch(/^b1 \(region b\): .*\(best of 2, none healthy in region a\)$/);
    advance(STALE_MS + 1);
    state("b1", { region: "b" }); // a1's state is stale now
    expect(pick("c1").instance).toBe("i-b1");
    state("a1", { region: "a" });
    expect(pick("c1").instance).toBe("i-a1");
  });

  it("treats replicas without a region as another region's, and a caller without one sees every region alike", () => {
    const { pick, state } = setup({ region: "a", affinity: false });
    state("old");
    state("a1", { region: "a" });
    expect(pick("c1").instance).toBe("i-a1");
    const any = setup({ affinity: false });
    any.state("a1", { region: "a" });
    any.state("b1", { region: "b" });
    const seen = new Set(Array.from({ length: 40 }, (_, i) => any.pick(`c${i}`).instance));
    expect(seen).toEqual(new Set(["i-a1", "i-b1"]));
  });

  it("moves a conversation back to its region when the region has a healthy replica again", () => {
    const { d, pick, state } = setup({ region: "a" });
    state("b1", { region: "b" });
    d.served(ROLE, "c1", "i-b1");
    expect(pick("c1").reason).toMatch(/^b1 \(region b\): affinity/); // no replica in a: the other region's stays
    state("a1", { region: "a" });
    expect(pick("c1").reason).toMatch(/^a1 \(region a\): .*in region a, affinity to b1 overridden: outside region a\)$/);
    d.served(ROLE, "c1", "i-a1");
    expect(pick("c1").reason).toMatch(/^a1 \(region a\): affinity: served this conversation's turn 2/);
  });
});
