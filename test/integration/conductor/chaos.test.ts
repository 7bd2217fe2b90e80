/** The conductor under failure: killed mid-turn, the server restarted, replicas racing. */
import { afterEach, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor, type Conductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { publishInbox } from "../../../mesh/frontdoor.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { DeadLetter, OutboxMessage } from "../../../schemas/index.ts";
import { startAgentHost, type AgentHost } from "../../../agents/host/host.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { committeeConfig, runLyra, writeCommitteeConfig } from "../../harness/committee-fixture.ts";
import { askTurn, logOf, newId, outboxOf, readStream } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await Promise.resolve(cleanup.pop()!()).catch(() => undefined);
});

async function meshWithHost(server: NatsServer, delayMs = 0): Promise<{ mesh: Mesh; host: AgentHost }> {
  const mesh = await connectMesh({ servers: server.url, reconnectTimeWaitMs: 100 });
  const config = committeeConfig({ natsUrl: server.url, delayMs });
  const host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  cleanup.push(
    () => mesh.close(),
    () => host.close(),
  );
  return { mesh, host };
}

const conductorFor = async (mesh: Mesh, onTurn?: () => void): Promise<Conductor> => {
  const config = committeeConfig({ natsUrl: "nats://unused" });
  const c = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config), ackWaitMs: 3000, onTurn });
  cleanup.push(() => c.close());
  return c;
};

describe("conductor under failure", () => {
  it("killed with SIGKILL mid-turn: another conductor finishes it; one reply, each step logged once", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const { mesh } = await meshWithHost(server, 40); // ~1.5 s per streamed step
    const cfgPath = writeCommitteeConfig({ natsUrl: server.url, ackWaitMs: 3000 });
    const first = runLyra(["core", "--config", cfgPath, "--metrics-port", "0"]);
    cleanup.push(async () => first.proc.kill("SIGKILL"));
    await first.waitFor(/conductor ready/);

    const conv = newId("c");
    const id = newId();
    const partials = mesh.nc.subscribe(subjects.outboxPartial("cli", conv), { max: 1 });
    await mesh.nc.flush();
    await publishInbox(mesh, { id, channel: "cli", conversation: conv, user: { id: "t" }, text: "How do I survive a crash?" });
    for await (const _ of partials) break; // the specialist is streaming: mid-pipeline
    first.proc.kill("SIGKILL");
    await first.exited;

    const second = runLyra(["core", "--config", cfgPath, "--metrics-port", "0"]);
    cleanup.push(async () => second.proc.kill("SIGKILL"));
    const replies = await eventually(
      "the reply after the crash",
      async () => {
        const r = await outboxOf(mesh, conv);
        return r.length ? r : undefined;
      },
      { timeoutMs: 40_000 },
    );
    // Once the inbox holds nothing (work-queue retention: the ack deletes it) no copy of the turn is left to run again.
    const jsm = await jetstreamManager(mesh.nc);
    await eventually("the turn to be acknowledged", async () => (await jsm.streams.info(StreamName.Inbox)).state.messages === 0);
    expect(await outboxOf(mesh, conv)).toHaveLength(1);
    expect(replies[0]!.text).toBe("Lyra says: Pragmatist answer to: How do I survive a crash?");
    const steps = (await logOf(mesh, conv)).map((e) => e.type);
    for (const t of ["user_message", "routed", "specialist_started", "specialist_finished", "voice_reply"]) {
      expect(
        steps.filter((s) => s === t),
        t,
      ).toHaveLength(1);
    }
  });

  it("nats-server restarted: the log and unprocessed inbox messages survive; the conductor carries on", async () => {
    const first = await startNatsServer();
    const port = first.port;
    const storeDir = first.storeDir;
    const { mesh } = await meshWithHost(first);
    const conductor = await conductorFor(mesh);
    const conv = newId("c");
    await askTurn(mesh, conv, "How do I turn one?");
    // Stop consuming, leave a message unprocessed, restart the server on the same store.
    await conductor.drain();
    const pendingId = newId();
    await publishInbox(mesh, { id: pendingId, channel: "cli", conversation: conv, user: { id: "t" }, text: "How do I turn two?" });
    await first.close();
    const again = await startNatsServer({ port, storeDir });
    cleanup.push(
      () => again[Symbol.asyncDispose](),
      () => first[Symbol.asyncDispose](),
    );
    await eventually("reconnect", async () =>
      mesh.nc.isClosed()
        ? undefined
        : await mesh.nc.flush().then(
            () => true,
            () => undefined,
          ),
    );

    const replacement = await conductorFor(mesh);
    const second = await eventually("the pending turn", async () => (await outboxOf(mesh, conv)).find((o) => o.in_reply_to === pendingId), {
      timeoutMs: 30_000,
    });
    expect(second.text).toBe("Lyra says: Pragmatist answer to: How do I turn two?");
    // The conductor carries on across another restart.
    await again.close();
    const third = await startNatsServer({ port, storeDir });
    cleanup.push(() => third[Symbol.asyncDispose]());
    await eventually(
      "reconnect",
      async () =>
        await mesh.nc.flush().then(
          () => true,
          () => undefined,
        ),
    );
    const r3 = await askTurn(mesh, conv, "How do I turn three?");
    expect(r3.text).toContain("turn three");
    const users = (await logOf(mesh, conv)).filter((e) => e.type === "user_message").map((e) => (e as { text: string }).text);
    expect(users).toEqual(["How do I turn one?", "How do I turn two?", "How do I turn three?"]);
    await eventually("the turn to be acknowledged", () => (replacement.inFlight() === 0 ? true : undefined), { timeoutMs: 10_000 });
  });

  it("two conductor replicas share the work; each conversation's order holds", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const { mesh } = await meshWithHost(server, 2);
    const meshB = await connectMesh({ servers: server.url });
    cleanup.push(() => meshB.close());
    const counts = [0, 0];
    await conductorFor(mesh, () => counts[0]!++);
    await conductorFor(meshB, () => counts[1]!++);
    const convs = Array.from({ length: 6 }, () => newId("c"));
    const perConv = 4;
    const finals = new Map<string, string[]>();
    const sub = mesh.nc.subscribe(subjects.outboxStored);
    const collecting = (async () => {
      for await (const m of sub) {
        const o = decodeBody(OutboxMessage, m, "reply");
        finals.set(o.conversation, [...(finals.get(o.conversation) ?? []), o.text]);
        if ([...finals.values()].flat().length === convs.length * perConv) break;
      }
    })();
    await mesh.nc.flush();
    for (let i = 0; i < perConv; i++) {
      for (const c of convs)
        await publishInbox(mesh, { id: newId(), channel: "cli", conversation: c, user: { id: "t" }, text: `How step ${i}` });
    }
    await Promise.race([
      collecting,
      new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${[...finals.values()].flat().length} replies`)), 50_000)),
    ]);
    for (const c of convs) {
      expect(finals.get(c)).toEqual(Array.from({ length: perConv }, (_, i) => `Lyra says: Pragmatist answer to: How step ${i}`));
      // The log shows each turn's user message and reply in order, never interleaved.
      const types = (await logOf(mesh, c)).filter((e) => e.type === "user_message" || e.type === "voice_reply").map((e) => e.type);
      expect(types).toEqual(Array.from({ length: perConv }, () => ["user_message", "voice_reply"]).flat());
    }
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
  });
});

describe("conductor delivery", () => {
  it("a turn longer than the ack wait is not redelivered: progress keeps it", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const { mesh } = await meshWithHost(server, 60); // each streamed step takes ~0.6-1 s
    const config = committeeConfig({ natsUrl: server.url });
    const turns: string[] = [];
    const c = await startConductor(mesh, {
      roles: createRoleClient(mesh),
      committee: committeeFromConfig(config),
      ackWaitMs: 600,
      onTurn: (t) => turns.push(t.id),
    });
    cleanup.push(() => c.close());
    const conv = newId("c");
    const r = await askTurn(mesh, conv, "How long can a turn take before it is redelivered?");
    expect(r.text).toMatch(/^Lyra says: Pragmatist answer to/);
    await eventually("the turn to finish", () => (turns.length > 0 ? true : undefined), { timeoutMs: 10_000 });
    // Acknowledged and nothing running: a redelivered copy would be in flight or in `turns` by now.
    await eventually("the turn to be acknowledged", async () => {
      const b = await c.backlog();
      return b.pending === 0 && b.ackPending === 0 && c.inFlight() === 0;
    });
    expect(turns).toHaveLength(1);
    expect((await logOf(mesh, conv)).filter((e) => e.type === "specialist_started")).toHaveLength(1);
  });

  it("after the maximum deliveries a message is dead-lettered with the reason", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const { mesh } = await meshWithHost(server);
    const config = committeeConfig({ natsUrl: server.url });
    const c = await startConductor(mesh, {
      roles: createRoleClient(mesh),
      committee: committeeFromConfig(config),
      ackWaitMs: 1000,
      maxDeliver: 2,
    });
    cleanup.push(() => c.close());
    // Every turn now fails: the conversation log is gone.
    await (await jetstreamManager(mesh.nc)).streams.delete("LYRA_LOG");
    const conv = newId("c");
    await publishInbox(mesh, { id: newId(), channel: "cli", conversation: conv, user: { id: "t" }, text: "How do I fail?" });
    const dead = await eventually(
      "the dead letter",
      async () => (await readStream(mesh, "LYRA_DEAD", "lyra.dead.cli", DeadLetter)).find((d) => d.subject === `lyra.inbox.cli.${conv}`),
      { timeoutMs: 30_000 },
    );
    expect(dead.reason).toBe("gave up after 2 deliveries");
    expect(dead.deliveries).toBe(3);
  });
});
