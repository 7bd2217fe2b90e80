/**
 * Atomic batch publish of log events (nats-server 2.12+) against a real JetStream: stored in order
 * with consecutive sequences, a re-sent batch stores nothing twice, a stream without
 * `allow_atomic` falls back to one at a time, and ensureStreams turns `allow_atomic` on for an
 * existing log stream.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { publishStoredBatch, type StoredMessage } from "../../../mesh/publish-stored.ts";
import { ensureStreams, logAllowsAtomic, StreamName, streamConfigs } from "../../../mesh/streams.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";

let server: NatsServer;
let mesh: Mesh;
let js: JetStreamClient;
let jsm: JetStreamManager;
let n = 0;

beforeAll(async () => {
  server = await startNatsServer();
  mesh = await connectMesh({ servers: server.url });
  jsm = await ensureStreams(mesh);
  js = jetstream(mesh.nc);
});
afterAll(async () => {
  await mesh?.close();
  await server?.[Symbol.asyncDispose]();
});

const text = new TextEncoder();
const msgs = (subject: string, ids: string[]): StoredMessage[] =>
  ids.map((id) => ({ data: text.encode(`${subject} ${id}`), headers: headers(), msgID: `${subject}:${id}` }));

/** The bodies stored on a subject, oldest first. */
async function stored(stream: string, subject: string): Promise<string[]> {
  const out: string[] = [];
  const it = await jsm.direct.getBatch(stream, { seq: 1, next_by_subj: subject, batch: 100 });
  for await (const m of it) out.push(new TextDecoder().decode(m.data));
  return out;
}

describe("atomic batch publish", () => {
  it("the log stream allows atomic batches; a batch is stored in order, with consecutive sequences", async () => {
    expect(await logAllowsAtomic(jsm)).toBe(true);
    const subject = `lyra.log.b${++n}`;
    const r = await publishStoredBatch(js, mesh.nc, subject, msgs(subject, ["a", "b", "c"]), { atomic: true });
    expect(r.atomic).toBe(true);
    const seqs = r.acks.map((a) => a.seq);
    expect(seqs).toEqual([seqs[0]!, seqs[0]! + 1, seqs[0]! + 2]);
    expect(r.acks.every((a) => !a.duplicate && a.stream === StreamName.Log)).toBe(true);
    expect(await stored(StreamName.Log, subject)).toEqual([`${subject} a`, `${subject} b`, `${subject} c`]);
  });

  it("a re-sent batch (a re-run) stores nothing twice; one partly stored stores only what is missing, in order", async () => {
    const subject = `lyra.log.b${++n}`;
    await publishStoredBatch(js, mesh.nc, subject, msgs(subject, ["a", "b"]), { atomic: true });
    const again = await publishStoredBatch(js, mesh.nc, subject, msgs(subject, ["a", "b"]), { atomic: true });
    expect(again.acks.map((a) => a.duplicate)).toEqual([true, true]);
    const more = await publishStoredBatch(js, mesh.nc, subject, msgs(subject, ["b", "c", "d"]), { atomic: true });
    expect(more.acks.map((a) => a.duplicate)).toEqual([true, false, false]);
    expect(await stored(StreamName.Log, subject)).toEqual([`${subject} a`, `${subject} b`, `${subject} c`, `${subject} d`]);
  });

  it("a stream without allow_atomic: the messages go one at a time, and the result says so", async () => {
    await jsm.streams.add({ name: "PLAIN", subjects: ["plain.>"], allow_direct: true });
    const r = await publishStoredBatch(js, mesh.nc, "plain.x", msgs("plain.x", ["a", "b"]), { atomic: true });
    expect(r.atomic).toBe(false);
    expect(r.acks.map((a) => a.duplicate)).toEqual([false, false]);
    expect(await stored("PLAIN", "plain.x")).toEqual(["plain.x a", "plain.x b"]);
    // Nothing of the refused batch is left in the headers it stored with.
    const m = await jsm.direct.getMessage("PLAIN", { last_by_subj: "plain.x" });
    expect(m?.header.get("Nats-Batch-Id")).toBe("");
  });

  it("ensureStreams turns allow_atomic on for a log stream created without it (an existing deployment)", async () => {
    await using s = await startNatsServer();
    await using m = await connectMesh({ servers: s.url });
    const mgr = await jetstreamManager(m.nc);
    const old = streamConfigs({}, false).find((c) => c.name === StreamName.Log)!;
    expect(old.allow_atomic).toBeUndefined();
    await mgr.streams.add(old);
    expect(await logAllowsAtomic(mgr)).toBe(false);
    await ensureStreams(m);
    expect(await logAllowsAtomic(mgr)).toBe(true);
  });
});
