/**
 * The conductor with `atomic_log` on (nats-server 2.12+): a turn's routed and specialist_started
 * events are stored as one atomic batch, in order, with consecutive sequences; a redelivered turn
 * and a turn re-run after its conductor stopped mid-turn store each event once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { encodeBody } from "../../../mesh/body.ts";
import { publishInbox } from "../../../mesh/frontdoor.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { startAgentHost } from "../../../agents/host/host.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import type { InboxMessage } from "../../../schemas/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { eventually } from "../../harness/eventually.ts";
import { askTurn, logOf, newId } from "./helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await Promise.resolve(cleanup.pop()!()).catch(() => undefined);
});

async function committee(server: NatsServer, delayMs = 0) {
  const mesh = await connectMesh({ servers: server.url });
  const config = committeeConfig({ natsUrl: server.url, delayMs });
  const host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  const turns: string[] = [];
  const conductor = () =>
    startConductor(mesh, {
      roles: createRoleClient(mesh),
      committee: committeeFromConfig(config),
      ackWaitMs: 3000,
      atomicLog: true,
      onTurn: (t) => void (t.ok && turns.push(t.id)),
    });
  cleanup.push(
    () => mesh.close(),
    () => host.close(),
  );
  return { mesh, conductor, turns };
}

/** The log's events of a conversation with their stream sequences. */
async function logSeqs(mesh: Mesh, conversation: string): Promise<{ type: string; seq: number }[]> {
  const jsm = await jetstreamManager(mesh.nc);
  const out: { type: string; seq: number }[] = [];
  const it = await jsm.direct.getBatch(StreamName.Log, { seq: 1, next_by_subj: subjects.log(conversation), batch: 100 });
  for await (const m of it) out.push({ type: (await logOf(mesh, conversation))[out.length]!.type, seq: m.seq });
  return out;
}

const STEPS = ["user_message", "routed", "specialist_started", "specialist_finished", "voice_reply"];

describe("conductor with atomic_log", () => {
  it("routed and specialist_started are one batch: in order, consecutive; a redelivered turn stores nothing twice", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const { mesh, conductor, turns } = await committee(server);
    const c = await conductor();
    cleanup.push(() => c.close());
    const conv = newId("c");
    const id = newId();
    await askTurn(mesh, conv, "How do I batch?", id);
    const first = await logSeqs(mesh, conv);
    expect(first.map((e) => e.type)).toEqual(STEPS);
    expect(first[2]!.seq).toBe(first[1]!.seq + 1);
    // The same inbox message again (a redelivery after a lost ack): every step is in the log.
    const msg: InboxMessage = { id, channel: "cli", conversation: conv, user: { id: "tester" }, text: "How do I batch?" };
    const { data, headers } = encodeBody(mesh, msg);
    await jetstream(mesh.nc).publish(subjects.inbox("cli", conv), data, { headers, msgID: `rerun:${id}` });
    await eventually("the re-run", () => (turns.length === 2 ? true : undefined));
    expect((await logOf(mesh, conv)).map((e) => e.type)).toEqual(STEPS);
  });

  it("a conductor stopped mid-turn after the batch: the next one finishes the turn, each step stored once", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const { mesh, conductor, turns } = await committee(server, 30); // the specialist streams for a while
    const c1 = await conductor();
    const conv = newId("c");
    const id = newId();
    await publishInbox(mesh, { id, channel: "cli", conversation: conv, user: { id: "tester" }, text: "How do I stop midway?" });
    await eventually("the batch stored", async () =>
      (await logOf(mesh, conv)).some((e) => e.type === "specialist_started") ? true : undefined,
    );
    await c1.close(); // the specialist is still streaming
    const c2 = await conductor();
    cleanup.push(() => c2.close());
    await eventually("the turn finished", () => (turns.includes(id) ? true : undefined), { timeoutMs: 20_000 });
    expect((await logOf(mesh, conv)).map((e) => e.type)).toEqual(STEPS);
  });
});
