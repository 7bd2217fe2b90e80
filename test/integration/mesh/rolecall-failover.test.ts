/** Several replicas of a role: load sharing, dead replicas, busy replicas, no replicas at all. */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { UnavailableError } from "../../../mesh/errors.ts";
import { createRoleClient, serveRole, type ResponderEvent, type RoleHandler } from "../../../mesh/rolecall/index.ts";
import type { NatsServer } from "../../harness/nats-server.ts";
import { ANSWER, wordsHandler } from "../../fixtures/scripted.ts";
import { gate } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";

let fx: MeshFixture;
let server: NatsServer;
let caller: Mesh;
const children: ChildProcess[] = [];

/** A connection of its own, as each agent process has; closed with the fixture. */
const agentMesh = (): Promise<Mesh> => fx.connect();

async function replica(role: string, host: string, handler: RoleHandler, extra: Partial<Parameters<typeof serveRole>[1]> = {}) {
  const mesh = await agentMesh();
  const r = fx.own(await serveRole(mesh, { role, host, handler, heartbeatIntervalS: 0, keepAliveMs: 100, ...extra }));
  await mesh.nc.flush(); // the subscription is on the server before anyone calls
  return { mesh, responder: r };
}

/** Collects a stream; calls `onFirstText` once, when the first content arrives. */
async function consume(stream: AsyncIterable<{ type: string; data: unknown }>, onFirstText: () => Promise<void> | void) {
  let text = "";
  let fired = false;
  for await (const c of stream) {
    if (c.type !== "response") continue;
    text += c.data as string;
    if (!fired) {
      fired = true;
      await onFirstText();
    }
  }
  return text;
}

beforeAll(async () => {
  fx = await startMeshFixture();
  ({ server, caller } = fx);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await fx?.[Symbol.asyncDispose]();
});

describe("replicas", () => {
  it("two responders in one queue group share the load", async () => {
    await replica("share", "a", wordsHandler("a"));
    await replica("share", "b", wordsHandler("b"));
    const client = createRoleClient(caller, { dispatch: false }); // the queue group itself, not capacity-aware dispatch
    const hosts = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const r = await client.call("share", `q${i}`);
      expect(r.text).toBe(ANSWER);
      hosts.set(r.host, (hosts.get(r.host) ?? 0) + 1);
    }
    expect(hosts.get("a")).toBeGreaterThan(0);
    expect(hosts.get("b")).toBeGreaterThan(0);
  });

  it("a replica whose connection closes mid-stream: the call is re-issued and the stream holds one complete answer", async () => {
    const a = await replica("closing", "a", wordsHandler("a", { delayMs: 100 }));
    const client = createRoleClient(caller);
    const s = client.stream("closing", "count", { keepAliveGapMs: 500 });
    const text = await consume(s, async () => {
      await replica("closing", "b", wordsHandler("b", { delayMs: 20 }));
      await a.mesh.nc.close();
    });
    const r = await s.result;
    expect(text).toBe(ANSWER);
    expect(r.text).toBe(ANSWER);
    expect(r.host).toBe("b");
    expect(r.attempts).toBe(2);
  });

  it("a replica process killed with SIGKILL mid-stream: the call is re-issued and the stream holds one complete answer", async () => {
    const child = spawn(process.execPath, ["test/fixtures/responder.ts", server.url, "child", "killed", "100"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await eventually("the fixture responder to be ready", () => out.includes("ready"));
    const client = createRoleClient(caller);
    const s = client.stream("killed", "count", { keepAliveGapMs: 500 });
    const text = await consume(s, async () => {
      await replica("killed", "b", wordsHandler("b", { delayMs: 20 }));
      child.kill("SIGKILL");
      await once(child, "exit");
    });
    const r = await s.result;
    expect(text).toBe(ANSWER);
    expect(r.text).toBe(ANSWER);
    expect(r.host).toBe("b");
    expect(r.attempts).toBeGreaterThanOrEqual(2);
  });

  it("a saturated replica answers 429 and the call succeeds on the other replica", async () => {
    const hold = gate();
    const blocking: RoleHandler = async function* () {
      await hold.promise;
      yield { type: "response", data: "late" };
    };
    const events: ResponderEvent[] = [];
    await replica("busy", "a", blocking, { concurrency: 1, queueSize: 0, events: (e) => events.push(e) });
    const client = createRoleClient(caller, { dispatch: false }); // the queue group picks at random: dispatch would avoid the full replica
    const occupying = client.call("busy", "hold the slot");
    await eventually("replica a to take the first call", () => events.some((e) => e.type === "accepted"), { timeoutMs: 5000 });
    await replica("busy", "b", wordsHandler("b"));
    // The queue group picks a replica at random: call until replica a has turned one away.
    for (let i = 0; i < 20 && !events.some((e) => e.type === "rejected"); i++) {
      const r = await client.call("busy", `q${i}`, { maxAttempts: 30 });
      expect(r.host).toBe("b");
      expect(r.text).toBe(ANSWER);
    }
    expect(events.find((e) => e.type === "rejected")).toMatchObject({ code: 429 });
    hold.open();
    expect((await occupying).text).toBe("late");
  });

  it("no responders: UnavailableError arrives well before the ack window would expire", async () => {
    const client = createRoleClient(caller);
    const t0 = Date.now();
    const err = await client.call("nobody", "hello", { ackWindowMs: 3000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
