/** The conductor's log cache against a real JetStream: what it returns is what a full read returns. */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { readLog } from "../../../mesh/conductor/history.ts";
import { createLogCache } from "../../../mesh/conductor/logcache.ts";
import { encodeBody } from "../../../mesh/body.ts";
import { ensureStreams } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import type { LogEvent } from "../../../schemas/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { newId } from "./helpers.ts";

let server: NatsServer;
let mesh: Mesh;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNatsServer();
  mesh = await connectMesh({ servers: server.url });
  await ensureStreams(mesh);
  js = jetstream(mesh.nc);
  jsm = await jetstreamManager(mesh.nc);
});
afterAll(async () => {
  await mesh?.close();
  await server?.[Symbol.asyncDispose]();
});

/** Appends one turn's events (as another replica would), returning the events and their acks. */
async function turn(conversation: string, id: string) {
  const events: LogEvent[] = [
    { type: "user_message", channel: "cli", user: { id: "u" }, text: `question ${id}`, ts: 1, conversation, turn: id },
    { type: "specialist_started", specialist: "pragmatist", ts: 2, conversation, turn: id },
    { type: "voice_reply", text: `answer ${id}`, backend: "scripted", ts: 3, conversation, turn: id },
  ];
  const out = [];
  for (const [i, e] of events.entries()) {
    const body = encodeBody(mesh, e);
    out.push({
      event: e,
      ack: await js.publish(subjects.log(conversation), body.data, { msgID: `${conversation}:${id}:${i}`, headers: body.headers }),
    });
  }
  return out;
}

describe("log cache", () => {
  it("a fresh conversation, then hits, catch-ups after another replica's turns, and full reads agree with the log", async () => {
    const conv = newId("c");
    const cache = createLogCache(jsm, js, { keepTurns: 100, maxCatchUp: 4 });
    expect(await cache.read(conv)).toEqual([]);

    // This replica's own turn: appended through the cache, then a hit.
    for (const { event, ack } of await turn(conv, "t1")) cache.appended(conv, event, ack);
    expect(await cache.read(conv)).toEqual((await readLog(js, conv)).events);

    // Another replica's turn (3 events): caught up with direct gets.
    await turn(conv, "t2");
    expect(await cache.read(conv)).toEqual((await readLog(js, conv)).events);

    // Two turns elsewhere (6 events, more than maxCatchUp): a full read.
    await turn(conv, "t3");
    await turn(conv, "t4");
    const all = await cache.read(conv);
    expect(all).toEqual((await readLog(js, conv)).events);
    expect(all.filter((e) => e.type === "user_message").map((e) => e.turn)).toEqual(["t1", "t2", "t3", "t4"]);
  });

  it("a duplicate append (a re-run) drops the entry, and the next read goes to the log", async () => {
    const conv = newId("c");
    const cache = createLogCache(jsm, js, { keepTurns: 100 });
    await cache.read(conv);
    const first = await turn(conv, "t1");
    for (const { event, ack } of first) cache.appended(conv, event, ack);
    expect(cache.size).toBeGreaterThan(0);
    const again = await turn(conv, "t1"); // same message ids: duplicates
    expect(again.every((a) => a.ack.duplicate)).toBe(true);
    cache.appended(conv, again[0]!.event, again[0]!.ack);
    expect(await cache.read(conv)).toEqual((await readLog(js, conv)).events);
  });

  it("a miss on a long conversation reads its last turns back from the end, not the whole log", async () => {
    const conv = newId("c");
    const other = newId("c");
    // 40 turns, each followed by another conversation's turn, so its messages are spread out.
    for (let t = 1; t <= 40; t++) {
      await turn(conv, `t${t}`);
      await turn(other, `o${t}`);
    }
    const cache = createLogCache(jsm, js, { keepTurns: 3, tailSpan: 8 });
    const got = await cache.read(conv);
    const full = await readLog(js, conv);
    expect(full.read).toBe(120);
    const last3 = new Set(["t38", "t39", "t40"]);
    expect(got).toEqual(full.events.filter((e) => last3.has(e.turn)));
    // 8 sequences back hold 5 of its messages (1 user message); 64 back hold 33 (11): enough.
    expect(cache.messagesRead).toBe(38);
    // The cache then ends where the log ends: the next read is a hit, with nothing read.
    expect(await cache.read(conv)).toEqual(got);
    expect(cache.messagesRead).toBe(38);
  });

  it("a short conversation is read back to the stream's start: all of it", async () => {
    const conv = newId("c");
    for (let t = 1; t <= 2; t++) await turn(conv, `t${t}`);
    const cache = createLogCache(jsm, js, { keepTurns: 3, tailSpan: 2 });
    expect(await cache.read(conv)).toEqual((await readLog(js, conv)).events);
  });

  it("an entry in use stays cached past the TTL; one left idle for the TTL is read again", async () => {
    const conv = newId("c");
    for (let t = 1; t <= 2; t++) await turn(conv, `t${t}`);
    let clock = 0;
    const cache = createLogCache(jsm, js, { keepTurns: 10, ttlMs: 1000, now: () => clock });
    await cache.read(conv);
    const afterMiss = cache.messagesRead;
    expect(afterMiss).toBe(6);
    for (let i = 0; i < 5; i++) {
      clock += 600; // 3 s in all, each read within the TTL of the one before
      await cache.read(conv);
    }
    expect(cache.messagesRead).toBe(afterMiss);
    clock += 1001;
    await cache.read(conv);
    expect(cache.messagesRead).toBe(afterMiss + 6);
  });
});
