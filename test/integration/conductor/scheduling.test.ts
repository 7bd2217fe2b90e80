/**
 * Which message runs when: a message waiting behind its own conversation holds no slot, so other
 * conversations go on at once, and a restarted conductor is not stalled by the conversations whose
 * oldest message a dead one still held.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor, type ConductorOptions } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { publishInbox } from "../../../mesh/frontdoor.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { startAgentHost } from "../../../agents/host/host.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { OutboxMessage } from "../../../schemas/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { committeeConfig, runLyra, writeCommitteeConfig } from "../../harness/committee-fixture.ts";
import { logOf, newId, outboxOf } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await Promise.resolve(cleanup.pop()!()).catch(() => undefined);
});

/** A mesh with the scripted committee (each streamed word takes `delayMs`) and no conductor yet. */
async function committeeMesh(
  delayMs: number,
): Promise<{ server: NatsServer; mesh: Mesh; conductor: (o?: Partial<ConductorOptions>) => Promise<void> }> {
  const server = await startNatsServer();
  const mesh = await connectMesh({ servers: server.url });
  const config = committeeConfig({ natsUrl: server.url, delayMs, slots: 16, queue: 16 });
  const host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  cleanup.push(
    () => server[Symbol.asyncDispose](),
    () => mesh.close(),
    () => host.close(),
  );
  return {
    server,
    mesh,
    conductor: async (o = {}) => {
      const c = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config), ...o });
      cleanup.push(() => c.close());
    },
  };
}

/** Every stored final reply, in the order they are published. */
function finalsInOrder(mesh: Mesh): OutboxMessage[] {
  const seen: OutboxMessage[] = [];
  const sub = mesh.nc.subscribe(subjects.outboxStored);
  void (async () => {
    for await (const m of sub) seen.push(decodeBody(OutboxMessage, m, "reply"));
  })();
  cleanup.push(() => sub.unsubscribe());
  return seen;
}

const ask = (mesh: Mesh, conversation: string, text: string) =>
  publishInbox(mesh, { id: newId(), channel: "cli", conversation, user: { id: "t" }, text });
const answer = (text: string) => `Lyra says: Pragmatist answer to: ${text}`;

describe("conductor scheduling", () => {
  it("one conversation's long queue does not hold up another conversation", async () => {
    const { mesh, conductor } = await committeeMesh(10);
    await conductor({ ackWaitMs: 5000 });
    const finals = finalsInOrder(mesh);
    await mesh.nc.flush();
    const long = newId("long");
    const other = newId("other");
    const n = 40;
    for (let i = 0; i < n; i++) await ask(mesh, long, `How step ${i}`);
    const t0 = performance.now();
    await ask(mesh, other, "How about me?");
    const mine = await eventually("the other conversation's reply", () => finals.find((o) => o.conversation === other), {
      timeoutMs: 50_000,
    });
    const otherMs = performance.now() - t0;
    const before = finals.indexOf(mine);
    await eventually("the long conversation", () => (finals.filter((o) => o.conversation === long).length === n ? true : undefined), {
      timeoutMs: 55_000,
    });
    const drainMs = performance.now() - t0;
    console.log(
      `head-of-line: the other conversation's reply came after ${before} of ${n} queued turns, ${(otherMs / 1000).toFixed(2)} s; ` +
        `the ${n} took ${(drainMs / 1000).toFixed(1)} s (${(drainMs / n).toFixed(0)} ms a turn)`,
    );
    // It starts at once, beside the long conversation's first turn.
    expect(before).toBeLessThan(10);
    expect(finals.filter((o) => o.conversation === long).map((o) => o.text)).toEqual(
      Array.from({ length: n }, (_, i) => answer(`How step ${i}`)),
    );
  });

  it("SIGKILLed mid-turn with queued messages of several conversations: a new conductor finishes all, in order, each once", async () => {
    const { server, mesh, conductor } = await committeeMesh(20);
    const ackWaitMs = 2500;
    const cfgPath = writeCommitteeConfig({ natsUrl: server.url, ackWaitMs });
    const first = runLyra(["core", "--config", cfgPath, "--metrics-port", "0"]);
    cleanup.push(async () => first.proc.kill("SIGKILL"));
    await first.waitFor(/conductor ready/);
    const finals = finalsInOrder(mesh);
    const convs = Array.from({ length: 6 }, () => newId("c"));
    const perConv = 4;
    for (let i = 0; i < perConv; i++) for (const c of convs) await ask(mesh, c, `How step ${i}`);
    await eventually("the first replies", () => (finals.length >= 2 ? true : undefined), { timeoutMs: 30_000 });
    const killedAt = performance.now();
    first.proc.kill("SIGKILL");
    await first.exited;
    const doneBeforeKill = finals.length;
    await new Promise((r) => setTimeout(r, 2000));

    const deliveries: number[] = [];
    const t0 = performance.now();
    let firstAfterMs: number | undefined;
    await conductor({
      ackWaitMs,
      onEvent: (e) => e.type === "received" && deliveries.push(e.deliveries),
      onTurn: () => (firstAfterMs ??= performance.now() - t0),
    });
    await eventually(`every reply (${finals.length} so far)`, () => (finals.length >= convs.length * perConv ? true : undefined), {
      timeoutMs: 60_000,
    });
    const allMs = performance.now() - t0;
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(
      `restart (ack_wait ${s(ackWaitMs)}): ${doneBeforeKill} replies before the kill; ` +
        `the new conductor's first reply after ${s(firstAfterMs ?? 0)}, all ${convs.length * perConv} after ${s(allMs)} ` +
        `(${s(performance.now() - killedAt)} after the kill); deliveries per message at most ${Math.max(...deliveries)}`,
    );
    // Waiting for its conversation is not a failed delivery: nothing is handed back and redelivered.
    expect(Math.max(...deliveries)).toBeLessThanOrEqual(2);
    for (const c of convs) {
      expect((await outboxOf(mesh, c)).map((o) => o.text)).toEqual(Array.from({ length: perConv }, (_, i) => answer(`How step ${i}`)));
      const types = (await logOf(mesh, c)).filter((e) => e.type === "user_message" || e.type === "voice_reply").map((e) => e.type);
      expect(types).toEqual(Array.from({ length: perConv }, () => ["user_message", "voice_reply"]).flat());
    }
  });
});
