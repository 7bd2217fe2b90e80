/**
 * The permission matrix: nats-server runs with the authorization `lyra auth` generates; every
 * generated user connects and tries each publish and subscribe its process makes, and ones it must
 * not. An allowed action must work end to end (a test admin sees the publish, a subscription gets
 * the admin's message); a forbidden one must be refused by the server with a permission error and
 * deliver nothing. The effect tests then make the JetStream API calls a misbehaving process would,
 * and an admin checks that none of them read, pulled, changed, deleted or purged anything.
 */
import { describe, expect, it } from "vitest";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos, type Msg } from "@nats-io/nats-core";
import { connectMesh } from "../../../mesh/connect.ts";
import { MEDIA_BUCKET, putMedia, readMedia } from "../../../mesh/media.ts";
import { ensureStreams, StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { fakePng } from "../../doubles/openai.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { answerOf, jsRequest } from "./effects.ts";
import { connectAs, generateAuth } from "./helpers.ts";
import { attempt, watchDenials } from "./matrix.ts";
import { matrix, YAML } from "./rows.ts";

/** The generated authorization with a test-only admin in the same account. */
const withAdmin = (conf: string) => conf.replace("    users: [\n", '    users: [\n      { user: admin, password: "admin-test-only" }\n');

describe("the permissions lyra auth generates", () => {
  it("let every process do what it does and nothing else (the permission matrix)", async () => {
    const auth = await generateAuth(YAML);
    // A test-only admin in the same account sees every publish and sends every probe.
    await using server = await startNatsServer({ config: withAdmin(auth.conf) });
    await using admin = await connectMesh({ servers: server.url, user: "admin", pass: "admin-test-only" });
    const adminSeen: Msg[] = [];
    admin.nc.subscribe(">", { callback: (e, m) => void (e ? undefined : adminSeen.push(m)) });
    await admin.nc.flush();

    const problems: string[] = [];
    let allowed = 0;
    let denied = 0;
    for (const row of matrix()) {
      await using me = await connectAs(auth, row.user, server.url);
      const denials = watchDenials(me.nc);
      for (const a of row.allow) {
        const r = await attempt(me, denials, admin, adminSeen, a);
        if (r === "allowed") allowed++;
        else
          problems.push(
            `${row.user} should be allowed to ${a.op} ${a.subject}${"queue" in a && a.queue ? ` (queue ${a.queue})` : ""}: ${r}`,
          );
      }
      for (const a of row.deny) {
        const r = await attempt(me, denials, admin, adminSeen, a);
        if (r === "denied") denied++;
        else
          problems.push(`${row.user} should be denied ${a.op} ${a.subject}${"queue" in a && a.queue ? ` (queue ${a.queue})` : ""}: ${r}`);
      }
      expect(me.nc.isClosed(), `${row.user}'s connection survived its denials`).toBe(false);
    }
    process.stdout.write(`permission matrix: allowed ${allowed} ok, forbidden ${denied} denied, ${problems.length} wrong\n`);
    expect(problems).toEqual([]);
    expect(allowed).toBeGreaterThan(50);
    expect(denied).toBeGreaterThan(70);
  }, 60_000);

  it("refuse JetStream calls that would read, pull, take over, delete or purge what is not the caller's; none has an effect", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: withAdmin(auth.conf) });
    await using admin = await connectMesh({ servers: server.url, user: "admin", pass: "admin-test-only" });
    await using core = await connectAs(auth, "core", server.url);
    await ensureStreams(core);
    const jsm = await jetstreamManager(admin.nc);
    await jetstream(admin.nc).publish(subjects.outbox("discord", "c1"), "for discord");
    await jetstream(admin.nc).publish(subjects.outbox("openai", "c1"), "for openai");
    // Discord's durable, as readOutbox makes it, and a consumer of serve's, as its stored-reply lookup makes one.
    const discordFilter = subjects.outboxChannel("discord");
    const serveFilter = subjects.outbox("openai", "c1");
    await jsm.consumers.add(StreamName.Outbox, {
      durable_name: "discord",
      filter_subject: discordFilter,
      deliver_policy: DeliverPolicy.All,
      ack_policy: AckPolicy.Explicit,
    });
    await jsm.consumers.add(StreamName.Outbox, {
      name: "oc_serve_1",
      filter_subject: serveFilter,
      ack_policy: AckPolicy.None,
      inactive_threshold: nanos(120_000),
    });
    const image = fakePng("effects", 400_000);
    const ref = await putMedia(admin, image, { placement: "store" });
    const mediaStream = `OBJ_${MEDIA_BUCKET}`;
    const mediaMessages = (await jsm.streams.info(mediaStream)).state.messages;

    const takeOver = (name: string, filter: string) => ({
      stream_name: StreamName.Outbox,
      config: { name, durable_name: name, filter_subject: filter, deliver_policy: "all", ack_policy: "explicit" },
    });
    const api = "$JS.API";
    const tries: [user: string, subject: string, body?: unknown][] = [
      // serve: the stored-reply lookup of another channel, and Discord's consumer.
      ["serve", `${api}.STREAM.MSG.GET.${StreamName.Outbox}`, { last_by_subj: subjects.outbox("discord", "c1") }],
      ["serve", `${api}.DIRECT.GET.${StreamName.Outbox}`, { last_by_subj: subjects.outbox("discord", "c1") }],
      ["serve", `${api}.DIRECT.GET.${StreamName.Outbox}.${subjects.outbox("discord", "c1")}`],
      ["serve", `${api}.CONSUMER.INFO.${StreamName.Outbox}.discord`],
      ["serve", `${api}.CONSUMER.MSG.NEXT.${StreamName.Outbox}.discord`, { batch: 1, no_wait: true }],
      [
        "serve",
        `${api}.CONSUMER.CREATE.${StreamName.Outbox}.discord.${subjects.outboxChannel("openai")}`,
        takeOver("discord", subjects.outboxChannel("openai")),
      ],
      ["serve", `${api}.CONSUMER.DURABLE.CREATE.${StreamName.Outbox}.discord`, takeOver("discord", subjects.outboxChannel("openai"))],
      ["serve", `${api}.CONSUMER.DELETE.${StreamName.Outbox}.discord`],
      // discord: the same against serve's.
      ["discord", `${api}.STREAM.MSG.GET.${StreamName.Outbox}`, { last_by_subj: serveFilter }],
      ["discord", `${api}.DIRECT.GET.${StreamName.Outbox}.${serveFilter}`],
      ["discord", `${api}.CONSUMER.INFO.${StreamName.Outbox}.oc_serve_1`],
      ["discord", `${api}.CONSUMER.MSG.NEXT.${StreamName.Outbox}.oc_serve_1`, { batch: 1, no_wait: true }],
      ["discord", `${api}.CONSUMER.CREATE.${StreamName.Outbox}.oc_serve_1.${discordFilter}`, takeOver("oc_serve_1", discordFilter)],
      ["discord", `${api}.CONSUMER.DELETE.${StreamName.Outbox}.oc_serve_1`],
      // cli reads the stored replies (ordered consumers of any name), but not through Discord's.
      ["cli", `${api}.CONSUMER.MSG.NEXT.${StreamName.Outbox}.discord`, { batch: 1, no_wait: true }],
      ["cli", `${api}.CONSUMER.CREATE.${StreamName.Outbox}.discord.${subjects.outboxAll}`, takeOver("discord", subjects.outboxAll)],
      ["cli", `${api}.CONSUMER.DELETE.${StreamName.Outbox}.discord`],
      // Only the operator purges or deletes a stream, the media store's included.
      ...["serve", "discord", "cli", "core", "tools", "agent-gpu-a", "agent-gpu-b", "agent-gpu-c"].flatMap(
        (u): [string, string, unknown?][] => [
          [u, `${api}.STREAM.PURGE.${mediaStream}`, {}],
          [u, `${api}.STREAM.DELETE.${mediaStream}`],
          [u, `${api}.STREAM.PURGE.${StreamName.Outbox}`, {}],
        ],
      ),
    ];
    const problems: string[] = [];
    let denied = 0;
    for (const user of new Set(tries.map(([u]) => u))) {
      await using me = await connectAs(auth, user, server.url);
      const denials = watchDenials(me.nc);
      for (const [, subject, body] of tries.filter(([u]) => u === user)) {
        const r = await jsRequest(me, user, denials, subject, body);
        if (r.denied) denied++;
        else problems.push(`${user} ${subject}: answered ${answerOf(r.reply)}`);
      }
    }

    // What the admin sees afterwards: every consumer as it was, nothing delivered, nothing gone.
    const discordConsumer = await jsm.consumers.info(StreamName.Outbox, "discord").catch(() => null);
    if (discordConsumer?.config.filter_subject !== discordFilter)
      problems.push(`discord's consumer: ${discordConsumer ? `filter now ${discordConsumer.config.filter_subject}` : "deleted"}`);
    else if (discordConsumer.delivered.stream_seq !== 0)
      problems.push(`discord's consumer: ${discordConsumer.delivered.stream_seq} delivered to someone else`);
    const serveConsumer = await jsm.consumers.info(StreamName.Outbox, "oc_serve_1").catch(() => null);
    if (serveConsumer?.config.filter_subject !== serveFilter)
      problems.push(`serve's consumer: ${serveConsumer ? `filter now ${serveConsumer.config.filter_subject}` : "deleted"}`);
    else if (serveConsumer.delivered.stream_seq !== 0)
      problems.push(`serve's consumer: ${serveConsumer.delivered.stream_seq} delivered to someone else`);
    const outboxMessages = (await jsm.streams.info(StreamName.Outbox).catch(() => null))?.state.messages;
    if (outboxMessages !== 2) problems.push(`the outbox holds ${outboxMessages ?? "no stream"} messages, not 2`);
    const media = (await jsm.streams.info(mediaStream).catch(() => null))?.state.messages;
    if (media !== mediaMessages) problems.push(`the media store holds ${media ?? "no stream"} messages, not ${mediaMessages}`);
    else if (!Buffer.from(await readMedia(admin, ref)).equals(image)) problems.push("the stored image reads back different");
    process.stdout.write(`JetStream effect tests: ${tries.length} attempts, ${denied} denied, ${problems.length} wrong\n`);
    expect(problems).toEqual([]);
  }, 120_000);
});
