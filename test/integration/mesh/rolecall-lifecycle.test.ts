/** Deadlines, cancellation, de-duplication, drain and close. */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { BusyError, CancelledError, ConnectionClosedError, DeadlineExceededError, UnavailableError } from "../../../mesh/errors.ts";
import {
  createRoleClient,
  serveRole,
  type ResponderEvent,
  type ResponderOptions,
  type RoleHandler,
  type RoleResponder,
} from "../../../mesh/rolecall/index.ts";
import { Header } from "../../../schemas/index.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { ANSWER, wordsHandler } from "../../fixtures/scripted.ts";
import { bodyOf, errorCodeOf, gate, isTerminator, rawExchange } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let fixture: MeshFixture;
let agent: Mesh;
let caller: Mesh;
const responders: RoleResponder[] = [];

async function serve(opts: Omit<ResponderOptions, "host"> & { host?: string }) {
  const r = await serveRole(agent, { host: "h1", heartbeatIntervalS: 0, keepAliveMs: 100, ...opts });
  responders.push(r);
  await agent.nc.flush();
  return r;
}

/** A handler that waits for its signal and records that it fired. */
function waitsForAbort(state: { started: number; aborted: number }): RoleHandler {
  return async function* (_req, ctx) {
    state.started++;
    yield { type: "response", data: "thinking " };
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    state.aborted++;
  };
}

const streamText = (msgs: Awaited<ReturnType<typeof rawExchange>>) =>
  msgs
    .filter((m) => !isTerminator(m) && !errorCodeOf(m))
    .map((m) => bodyOf(m) as { type: string; data: string })
    .filter((c) => c.type === "response")
    .map((c) => c.data)
    .join("");

beforeAll(async () => {
  fixture = await startMeshFixture();
  ({ agent, caller } = fixture);
});
afterAll(async () => {
  await Promise.all(responders.map((r) => r.close()));
  await fixture?.[Symbol.asyncDispose]();
});

describe("cancellation", () => {
  it("aborting a call fires the handler's signal and rejects with CancelledError", async () => {
    const state = { started: 0, aborted: 0 };
    await serve({ role: "cancel-me", handler: waitsForAbort(state) });
    const ctrl = new AbortController();
    const s = createRoleClient(caller).stream("cancel-me", "hello", { signal: ctrl.signal });
    for await (const c of s) if (c.type === "response") break;
    await expect(s.result).rejects.toBeInstanceOf(CancelledError);
    await eventually("the handler's signal", () => state.aborted === 1, { timeoutMs: 5000 });

    ctrl.abort();
    const p = createRoleClient(caller).call("cancel-me", "again", { signal: ctrl.signal });
    await expect(p).rejects.toBeInstanceOf(CancelledError); // already aborted: refused at once
    expect(state.started).toBe(1);

    const ctrl2 = new AbortController();
    const call = createRoleClient(caller).call("cancel-me", "third", { signal: ctrl2.signal });
    await eventually("the handler to start", () => state.started === 2, { timeoutMs: 5000 });
    ctrl2.abort();
    await expect(call).rejects.toBeInstanceOf(CancelledError);
    await eventually("the handler's signal", () => state.aborted === 2, { timeoutMs: 5000 });
  });
});

describe("deadlines", () => {
  it("a request whose deadline already passed gets 409 deadline_exceeded (Lyra's 408) and never runs", async () => {
    const runs = { count: 0 };
    await serve({ role: "late", handler: wordsHandler("h1", { runs }) });
    const msgs = await rawExchange(caller.nc, "lyra.late", "hello", { [Header.Deadline]: String(Date.now() - 1000) });
    expect(msgs).toHaveLength(2);
    expect(errorCodeOf(msgs[0]!)).toBe("409");
    expect(bodyOf(msgs[0]!)).toMatchObject({ error: "deadline_exceeded", lyra_status: 408 });
    expect(isTerminator(msgs[1]!)).toBe(true);
    expect(runs.count).toBe(0);
  });

  it("queued work whose deadline passes is dropped with 409 deadline_exceeded", async () => {
    const hold = gate();
    let runs = 0;
    const blocking: RoleHandler = async function* () {
      runs++;
      await hold.promise;
      yield { type: "response", data: "done" };
    };
    const r = await serve({ role: "queued", handler: blocking, concurrency: 1, queueSize: 2 });
    const first = rawExchange(caller.nc, "lyra.queued", "first", { [Header.Stream]: "1" });
    await eventually("the first request to run", () => r.inFlight() === 1, { timeoutMs: 5_000 });
    const msgs = await rawExchange(caller.nc, "lyra.queued", "second", {
      [Header.Stream]: "1",
      [Header.Deadline]: String(Date.now() + 400),
    });
    const chunks = msgs.slice(0, 2).map((m) => bodyOf(m));
    expect(chunks).toEqual([
      { type: "status", data: "ack" },
      { type: "status", data: "queued" },
    ]);
    expect(errorCodeOf(msgs.at(-2)!)).toBe("409");
    expect(bodyOf(msgs.at(-2)!)).toMatchObject({ error: "deadline_exceeded", lyra_status: 408 });
    expect(isTerminator(msgs.at(-1)!)).toBe(true);
    expect(r.queueDepth()).toBe(0);
    hold.open();
    expect(streamText(await first)).toBe("done");
    expect(runs).toBe(1);
  });

  it("a running handler past its deadline is aborted; the caller gets DeadlineExceededError", async () => {
    const state = { started: 0, aborted: 0 };
    await serve({ role: "overrun", handler: waitsForAbort(state) });
    const err = await createRoleClient(caller)
      .call("overrun", "hello", { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceededError);
    await eventually("the handler's signal", () => state.aborted === 1, { timeoutMs: 5000 });
  });

  it("a busy replica answers 429 with retry_after_s, and the client gives up within its attempts", async () => {
    const hold = gate();
    const blocking: RoleHandler = async function* () {
      await hold.promise;
      yield { type: "response", data: "done" };
    };
    const r = await serve({ role: "full", handler: blocking, concurrency: 1, queueSize: 0 });
    const first = createRoleClient(caller).call("full", "first");
    await eventually("the first request to run", () => r.inFlight() === 1, { timeoutMs: 5_000 });
    const msgs = await rawExchange(caller.nc, "lyra.full", "second");
    expect(errorCodeOf(msgs[0]!)).toBe("429");
    expect((bodyOf(msgs[0]!) as { retry_after_s: number }).retry_after_s).toBeGreaterThanOrEqual(1);
    expect(isTerminator(msgs[1]!)).toBe(true);
    await expect(createRoleClient(caller).call("full", "third", { maxAttempts: 2, timeoutMs: 3000 })).rejects.toBeInstanceOf(BusyError);
    hold.open();
    expect((await first).text).toBe("done");
  });
});

describe("de-duplication", () => {
  it("a repeated request id is not run twice; the second call gets the same answer", async () => {
    const runs = { count: 0 };
    await serve({ role: "dedup", handler: wordsHandler("h1", { runs }) });
    const client = createRoleClient(caller);
    const a = await client.call("dedup", "hello", { requestId: "req-1" });
    const b = await client.call("dedup", "hello", { requestId: "req-1" });
    expect(runs.count).toBe(1);
    expect(b.text).toBe(a.text);
    expect(b.final).toEqual(a.final);
    const raw = await rawExchange(caller.nc, "lyra.dedup", "hello", { [Header.RequestId]: "req-1" });
    // A replay is a fresh reply stream: the ack first (§6.4), then the answer.
    expect(bodyOf(raw[0]!)).toEqual({ type: "status", data: "ack" });
    expect((bodyOf(raw[1]!) as { data: { text: string } }).data.text).toBe(ANSWER);
    expect(runs.count).toBe(1);
  });

  it("a repeat of an in-flight id joins the running request on the new reply subject", async () => {
    const runs = { count: 0 };
    await serve({ role: "dedup-live", handler: wordsHandler("h1", { runs, delayMs: 50 }) });
    const hdrs = { [Header.RequestId]: "req-live", [Header.Stream]: "1" };
    const first = rawExchange(caller.nc, "lyra.dedup-live", "hello", hdrs, 800);
    await sleep(180);
    const second = await rawExchange(caller.nc, "lyra.dedup-live", "hello", { ...hdrs, [Header.Attempt]: "2" });
    expect(runs.count).toBe(1);
    expect(bodyOf(second[0]!)).toEqual({ type: "status", data: "ack" });
    expect(streamText(second)).toBe(ANSWER);
    expect(isTerminator(second.at(-1)!)).toBe(true);
    const abandoned = await first;
    expect(abandoned.some(isTerminator)).toBe(false); // its output moved to the second reply subject
  });
});

describe("drain and close", () => {
  it("drain lets in-flight work finish, then the role is gone", async () => {
    const events: ResponderEvent[] = [];
    const r = await serve({ role: "draining", handler: wordsHandler("h1", { delayMs: 30 }), events: (e) => events.push(e) });
    const client = createRoleClient(caller);
    const s = client.stream("draining", "hello");
    let drained: Promise<void> | undefined;
    let text = "";
    for await (const c of s) {
      if (c.type !== "response") continue;
      text += c.data as string;
      drained ??= r.drain();
    }
    await drained;
    expect(text).toBe(ANSWER);
    expect((await s.result).attempts).toBe(1);
    expect(events.map((e) => e.type)).toEqual(["accepted", "completed"]);
    await expect(client.call("draining", "again")).rejects.toBeInstanceOf(UnavailableError);
    await r.closed();
    await r.drain(); // safe twice
    await r[Symbol.asyncDispose]();
  });

  it("drain aborts what still runs after graceMs: the caller gets 429 shutting_down (Lyra's 503), the handler's signal fires", async () => {
    const state = { started: 0, aborted: 0 };
    const r = await serve({ role: "grace", handler: waitsForAbort(state), graceMs: 200 });
    const pending = rawExchange(caller.nc, "lyra.grace", "hello", { [Header.Stream]: "1" });
    await eventually("the handler to start", () => state.started === 1, { timeoutMs: 5_000 });
    await r.drain();
    const msgs = await pending;
    expect(errorCodeOf(msgs.at(-2)!)).toBe("429");
    expect(bodyOf(msgs.at(-2)!)).toMatchObject({ error: "shutting_down", lyra_status: 503, retry_after_s: 1 });
    expect(isTerminator(msgs.at(-1)!)).toBe(true);
    expect(state.aborted).toBe(1);
  });

  it("close aborts at once; closing the caller's connection rejects pending calls with ConnectionClosedError", async () => {
    const state = { started: 0, aborted: 0 };
    const r = await serve({ role: "closing", handler: waitsForAbort(state) });
    const own = await connectMesh({ servers: fixture.server.url });
    const client = createRoleClient(own);
    const call = client.call("closing", "hello");
    await eventually("the handler to start", () => state.started === 1, { timeoutMs: 5_000 });
    await own.close();
    await expect(call).rejects.toBeInstanceOf(ConnectionClosedError);
    await client.closed();
    await r.close();
    await r.close();
    expect(state.aborted).toBe(1);
  });
});
