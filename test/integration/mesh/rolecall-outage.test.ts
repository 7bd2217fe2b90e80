/**
 * Short outages of a role's agents: none serving it when the call starts, or a replica frozen
 * (SIGSTOP) and thawed. A call that waits outages out (onOutage "wait", as the conductor's) is
 * answered within its deadline; past it, a typed error says why. By default (onOutage "fail")
 * the call gives up early, as it did before, for callers with a fallback or a person waiting.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { DeadlineExceededError, UnavailableError } from "../../../mesh/errors.ts";
import { createRoleClient, OnOutage, serveRole } from "../../../mesh/rolecall/index.ts";
import type { NatsServer } from "../../harness/nats-server.ts";
import { ANSWER, wordsHandler } from "../../fixtures/scripted.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { eventually } from "../../harness/eventually.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";

let fx: MeshFixture;
let server: NatsServer;
let caller: Mesh;
const children: ChildProcess[] = [];

beforeAll(async () => {
  fx = await startMeshFixture();
  ({ server, caller } = fx);
});
afterEach(() => {
  // A frozen child must not outlive its test (SIGKILL works on a stopped process).
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
afterAll(() => fx?.[Symbol.asyncDispose]());

async function replica(role: string, host: string) {
  const mesh = await fx.connect();
  const r = fx.own(await serveRole(mesh, { role, host, handler: wordsHandler(host), heartbeatIntervalS: 0, keepAliveMs: 100 }));
  await mesh.nc.flush();
  return r;
}

/** A responder in a child process (test/fixtures/responder.ts), for SIGSTOP and SIGCONT. */
async function childReplica(role: string, delayMs: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["test/fixtures/responder.ts", server.url, "frozen", role, String(delayMs)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  await eventually("the fixture responder to be ready", () => out.includes("ready"));
  return child;
}

/**
 * Counts the requests sent to a role (the queue group's subject and the replicas' own), so a test
 * can thaw a replica once the caller is past a number of attempts rather than after a fixed time.
 */
async function requestsTo(role: string): Promise<{ count: () => number; close: () => void }> {
  let n = 0;
  const count = () => void n++;
  const subs = [
    caller.nc.subscribe(subjects.role(role), { callback: count }),
    caller.nc.subscribe(`${subjects.role(role)}.*`, { callback: count }),
  ];
  await caller.nc.flush();
  return { count: () => n, close: () => subs.forEach((s) => s.unsubscribe()) };
}

/** Windows shorter than the defaults, so five attempts (the old bound) are used up in 1.5 s. */
const QUICK = { ackWindowMs: 300, keepAliveGapMs: 300 } as const;
const WAITING = { ...QUICK, onOutage: OnOutage.Wait } as const;

describe("a role with no responder when the call starts", () => {
  it("waits (onOutage: wait) and is answered by the responder that appears 1.5 s later", async () => {
    const client = createRoleClient(caller);
    const t0 = Date.now();
    const late = sleep(1500).then(() => replica("late", "b"));
    const r = await client.call("late", "hello", { onOutage: OnOutage.Wait, timeoutMs: 20_000 });
    await late;
    expect(r.text).toBe(ANSWER);
    expect(r.host).toBe("b");
    expect(r.attempts).toBeGreaterThan(1);
    console.log(`no responders for 1.5 s: answered after ${Date.now() - t0} ms, ${r.attempts} attempts`);
  });

  it("past the deadline: DeadlineExceededError that says no agent served the role, and for how long", async () => {
    const client = createRoleClient(caller);
    const err = await client.call("absent", "hello", { onOutage: OnOutage.Wait, timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceededError);
    const e = err as DeadlineExceededError;
    expect(e.message).toMatch(/no agent served role 'absent' for 1(\.\d)? s/);
    expect(e.message).toContain("no responders on lyra.absent");
    expect(e.cause).toBeInstanceOf(UnavailableError);
    console.log(e.message);
  });

  it("by default (onOutage: fail) it still fails at once with UnavailableError, for callers with a fallback", async () => {
    const err = await createRoleClient(caller)
      .call("nobody-here", "hello", { timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain("no agent serves role 'nobody-here'");
  });
});

describe("a replica frozen with SIGSTOP and thawed", () => {
  it("frozen before the call, thawed after seven attempts (past the five of old): the call is re-issued until it answers", async () => {
    const child = await childReplica("thaw", 10);
    child.kill("SIGSTOP");
    const client = createRoleClient(caller);
    const t0 = Date.now();
    const sent = await requestsTo("thaw");
    // Past the five attempts that used to be all a call had.
    const thaw = eventually("seven attempts", () => sent.count() >= 7, { timeoutMs: 15_000 }).then(() => child.kill("SIGCONT"));
    const r = await client.call("thaw", "hello", { ...WAITING, timeoutMs: 20_000 });
    await thaw;
    sent.close();
    expect(r.text).toBe(ANSWER);
    expect(r.host).toBe("frozen");
    expect(r.attempts).toBeGreaterThan(5);
    console.log(`frozen before the call, thawed after 7 attempts: answered after ${Date.now() - t0} ms, ${r.attempts} attempts`);
  });

  it("frozen mid-stream, thawed after seven attempts: the re-issue joins the running request; the stream holds one answer", async () => {
    const child = await childReplica("thaw-mid", 100);
    const client = createRoleClient(caller);
    const sent = await requestsTo("thaw-mid");
    const s = client.stream("thaw-mid", "hello", { ...WAITING, timeoutMs: 20_000 });
    let text = "";
    let thaw: Promise<unknown> | undefined;
    for await (const c of s) {
      if (c.type !== "response") continue;
      text += c.data as string;
      if (!thaw) {
        child.kill("SIGSTOP");
        thaw = eventually("seven attempts", () => sent.count() >= 7, { timeoutMs: 15_000 }).then(() => child.kill("SIGCONT"));
      }
    }
    await thaw;
    sent.close();
    const r = await s.result;
    expect(text).toBe(ANSWER);
    expect(r.text).toBe(ANSWER);
    expect(r.attempts).toBeGreaterThan(5);
    console.log(`frozen mid-stream, thawed after 7 attempts: ${r.attempts} attempts`);
  });

  it("frozen past the deadline: DeadlineExceededError that says the replica did not answer", async () => {
    const child = await childReplica("frozen-for-good", 10);
    child.kill("SIGSTOP");
    const err = await createRoleClient(caller)
      .call("frozen-for-good", "hello", { ...WAITING, timeoutMs: 2500 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceededError);
    const e = err as DeadlineExceededError;
    expect(e.message).toMatch(/no agent served role 'frozen-for-good' for 2(\.\d)? s/);
    expect(e.message).toContain("presumed dead");
    console.log(e.message);
  });

  it("by default (onOutage: fail) a frozen replica is given up on after maxAttempts re-issues, with UnavailableError", async () => {
    const child = await childReplica("frozen-default", 10);
    child.kill("SIGSTOP");
    const err = await createRoleClient(caller)
      .call("frozen-default", "hello", { ...QUICK, timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain("replica presumed dead: no ack within 300 ms");
  });
});
