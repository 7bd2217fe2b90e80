/**
 * One live final reply per turn. JetStream de-duplicates the stored copy by message id, but a core
 * NATS subscriber on `lyra.outbox.<channel>.<conversation>` sees every publish: a re-run turn
 * (redelivery after a lost ack, a server restart) must not publish its final again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor, type Conductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { encodeBody, decodeBody } from "../../../mesh/body.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { startAgentHost } from "../../../agents/host/host.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { OutboxMessage, type InboxMessage } from "../../../schemas/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { askTurn, newId, outboxOf } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await Promise.resolve(cleanup.pop()!()).catch(() => undefined);
});

async function committee(server: NatsServer, delayMs = 0): Promise<{ mesh: Mesh; conductor: Conductor; turns: string[]; runs: string[] }> {
  const mesh = await connectMesh({ servers: server.url, reconnectTimeWaitMs: 100 });
  const config = committeeConfig({ natsUrl: server.url, delayMs });
  const host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  const turns: string[] = []; // the turns that ended well
  const runs: string[] = []; // every turn that ended, well or not
  const onTurn = (t: { id: string; ok: boolean }) => void (runs.push(t.id), t.ok && turns.push(t.id));
  const conductor = await startConductor(mesh, {
    roles: createRoleClient(mesh),
    committee: committeeFromConfig(config),
    ackWaitMs: 3000,
    onTurn,
  });
  cleanup.push(
    () => mesh.close(),
    () => host.close(),
    () => conductor.close(),
  );
  return { mesh, conductor, turns, runs };
}

/** Counts the final replies a plain core-NATS subscriber sees, by the turn they answer. */
function countFinals(mesh: Mesh, subject: string): Map<string, number> {
  const seen = new Map<string, number>();
  const sub = mesh.nc.subscribe(subject);
  void (async () => {
    for await (const m of sub) {
      const o = decodeBody(OutboxMessage, m, "reply");
      if (o.final) seen.set(o.in_reply_to, (seen.get(o.in_reply_to) ?? 0) + 1);
    }
  })();
  cleanup.push(() => sub.unsubscribe());
  return seen;
}

describe("one live final per turn", () => {
  it("a re-run of a turn whose reply is stored publishes no second final", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const { mesh, turns } = await committee(server);
    const conv = newId("c");
    const finals = countFinals(mesh, subjects.outbox("cli", conv));
    await mesh.nc.flush();
    const id = newId();
    const first = await askTurn(mesh, conv, "How do I answer once?", id);
    // The same inbox message again, as a redelivery after a lost ack presents it: every step is in
    // the log and the reply is stored. (Another message id, so the inbox stores it.)
    const msg: InboxMessage = { id, channel: "cli", conversation: conv, user: { id: "tester" }, text: "How do I answer once?" };
    const { data, headers } = encodeBody(mesh, msg);
    await jetstream(mesh.nc).publish(subjects.inbox("cli", conv), data, { headers, msgID: `rerun:${id}` });
    await eventually("the re-run", () => (turns.length === 2 ? true : undefined));
    await mesh.nc.flush();
    expect(finals.get(id)).toBe(1);
    expect((await outboxOf(mesh, conv)).map((o) => o.text)).toEqual([first.text]);
  });

  it("nats-server restarted mid-load: every turn's final is seen live at most once and stored once", async () => {
    const first = await startNatsServer();
    const { port, storeDir } = first;
    cleanup.push(() => first[Symbol.asyncDispose]());
    const { mesh, conductor, turns, runs } = await committee(first, 20); // ~0.5 s a turn
    const finals = countFinals(mesh, subjects.outboxStored);
    await mesh.nc.flush();
    const convs = Array.from({ length: 6 }, () => newId("c"));
    const ids: string[] = [];
    const idsOf = new Map<string, string[]>(convs.map((c) => [c, []]));
    for (let i = 0; i < 4; i++) {
      for (const c of convs) {
        const id = newId();
        ids.push(id);
        idsOf.get(c)!.push(id);
        await publishInbox(mesh, { id, channel: "cli", conversation: c, user: { id: "t" }, text: `How step ${i}` });
      }
    }
    await eventually("the first turns", () => (turns.length >= 6 ? true : undefined), { timeoutMs: 30_000 });
    await first.kill(); // SIGKILL: what the server had not yet written (acks, deletes) is lost
    const again = await startNatsServer({ port, storeDir });
    cleanup.push(() => again[Symbol.asyncDispose]());
    // Every turn done: each answered, nothing left in the inbox, nothing running.
    await eventually(
      "every turn to be done",
      async () => {
        const b = await conductor.backlog().catch(() => undefined);
        return new Set(turns).size === ids.length && b?.pending === 0 && b.ackPending === 0 && conductor.inFlight() === 0
          ? true
          : undefined;
      },
      { timeoutMs: 50_000 },
    );
    await mesh.nc.flush();
    const twice = ids.filter((id) => (finals.get(id) ?? 0) > 1);
    console.log(
      `after the restart: ${runs.length - ids.length} turns run again; ` +
        `${twice.length} of ${ids.length} turns were seen live twice; ` +
        `${ids.filter((id) => !finals.has(id)).length} not seen live (published while disconnected)`,
    );
    expect(twice).toEqual([]);
    // One stored reply per turn, in order. (Not their texts: a voice stream cut by the restart has
    // been seen to come back as its last word only, a role-call matter this test does not judge.)
    for (const c of convs) expect((await outboxOf(mesh, c)).map((o) => o.in_reply_to)).toEqual(idsOf.get(c));
  });
});

describe("front doors deliver a turn's final once", () => {
  /** A nats-server, a connection, and a watch on one turn of a new conversation; publish() sends as a conductor does. */
  async function watched() {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const mesh = await connectMesh({ servers: server.url });
    cleanup.push(() => mesh.close());
    const conv = newId("c");
    const id = newId();
    const watch = watchReplies(mesh, "cli", conv, id);
    await mesh.nc.flush();
    const base = { conversation: conv, channel: "cli", in_reply_to: id, ts: Date.now() };
    const publish = (o: Omit<OutboxMessage, keyof typeof base>) => {
      const { data, headers } = encodeBody(mesh, { ...base, ...o });
      mesh.nc.publish(o.final ? subjects.outbox("cli", conv) : subjects.outboxPartial("cli", conv), data, { headers });
    };
    return { watch, publish };
  }

  it("watchReplies ends at the first final; a second one for the same turn is never yielded", async () => {
    const { watch, publish } = await watched();
    for (let i = 0; i < 2; i++) publish({ text: "once", final: true });
    const got: OutboxMessage[] = [];
    for await (const o of watch) got.push(o);
    expect(got.map((o) => o.text)).toEqual(["once"]);
  });

  it("watchReplies yields the partials and the final in the order they were published", async () => {
    const { watch, publish } = await watched();
    // A burst, as a conductor streams: the partials (core NATS) and then the final, from one connection.
    const words = Array.from({ length: 20 }, (_, i) => `w${i} `);
    for (const w of words) publish({ text: w, final: false, step: "voice", role: "voice" });
    publish({ text: words.join(""), final: true });
    const got: string[] = [];
    for await (const o of watch) got.push(o.final ? "(final)" : o.text);
    expect(got).toEqual([...words, "(final)"]);
  });
});
