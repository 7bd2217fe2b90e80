/**
 * The permission matrix: nats-server runs with the authorization `lyra auth` generates; every
 * generated user connects and tries each publish and subscribe its process makes, and ones it must
 * not. An allowed action must work end to end (a test admin sees the publish, a subscription gets
 * the admin's message); a forbidden one must be refused by the server with a permission error and
 * deliver nothing.
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
import { attempt, pub, sub, watchDenials, type Row } from "./matrix.ts";

const YAML = `
mesh: { name: test, owner: tester }
roles:
  router: { kind: router, model: m, backend: scripted, script: [{ json: { specialist: pragmatist } }] }
  pragmatist: { model: m, backend: scripted, tools: [clock.now], script: [{ reply: p }] }
  philosopher: { model: m, backend: scripted, tools: ["clock.*"], script: [{ reply: q }] }
  voice: { kind: voice, model: m, backend: scripted, script: [{ reply: v }] }
tools: { servers: { clock: { builtin: clock } } }
hosts:
  gpu-a: { roles: [router, pragmatist] }
  gpu-b: { roles: [philosopher, voice] }
  gpu-c: { roles: [voice] }
`;

const call = (role: string, server: string, tool: string) => subjects.mcpRequest("test", role, server, "tools/call", tool);
const list = (role: string, server: string) => subjects.mcpRequest("test", role, server, "tools/list");
const Q = subjects.agentsQueue;
const inbox = (user: string) => `_INBOX.${user}.n1.t1`;

/** What each process does (read from the code that uses each subject), and what it must not. */
function matrix(): Row[] {
  const agentDeny = (other: string, otherTool: string) => [
    sub(subjects.role(other), Q),
    sub("lyra.>", undefined, "lyra.log.c1"),
    sub("_INBOX.core.>", undefined, inbox("core")),
    sub("_INBOX.>", undefined, inbox("core")),
    sub(`${subjects.role("router")}`, "thieves"),
    pub(otherTool),
    pub(subjects.role(other)),
    pub(subjects.log("c1")),
    pub(subjects.outbox("cli", "c1")),
    pub(subjects.inbox("cli", "c1")),
    pub(subjects.heartbeat("tester", other)),
    pub(subjects.roleState(other, "i1")),
    pub("$JS.API.STREAM.INFO.LYRA_LOG"),
    pub("$JS.API.STREAM.DELETE.LYRA_LOG"),
    pub("$JS.API.CONSUMER.CREATE.LYRA_INBOX.x"),
    pub(inbox("core")), // a reply subject nobody sent it: not a response
  ];
  // Discord: its durable consumer (exact name), its state buckets, the media store.
  const discordOwn = [
    pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.discord.lyra.outbox.discord.*"),
    pub("$JS.API.CONSUMER.INFO.LYRA_OUTBOX.discord"),
    pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.discord"),
    pub("$JS.ACK.LYRA_OUTBOX.discord.1.1.1.1700000000000000000.0"),
    pub("$KV.LYRA_DISCORD.epoch.42"),
    pub("$JS.API.DIRECT.GET.KV_LYRA_DISCORD_SENT.$KV.LYRA_DISCORD_SENT.m1"),
    pub("$O.LYRA_MEDIA.C.abc"),
    pub("$JS.FC.OBJ_LYRA_MEDIA.oc1.x1"),
  ];
  // serve: role calls, the conductor check, a re-sent message's stored reply inside its channel.
  const serveOwn = [
    pub(subjects.role("voice")),
    pub(subjects.roleInstance("voice", "i1")),
    sub(subjects.roleStateAll, undefined, subjects.roleState("voice", "i1")),
    pub(subjects.cancel("r1")),
    pub("$JS.API.CONSUMER.INFO.LYRA_INBOX.lyra-core"),
    pub("$JS.API.DIRECT.GET.LYRA_OUTBOX.lyra.outbox.openai.c1"),
    pub("$JS.API.STREAM.INFO.LYRA_OUTBOX"),
    pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.oc1.lyra.outbox.openai.c1"),
    pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.oc1"),
    pub("$JS.API.CONSUMER.DELETE.LYRA_OUTBOX.oc1"),
  ];
  // Another process's consumer, or a consumer not its own, on the outbox.
  const outboxDeny = (door: "discord" | "serve") =>
    door === "discord"
      ? [pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.d1.lyra.outbox.discord.*"), pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.oc1"), pub("$JS.API.CONSUMER.DELETE.LYRA_OUTBOX.oc1"), pub("$JS.API.CONSUMER.DELETE.LYRA_OUTBOX.discord"), pub("$JS.ACK.LYRA_OUTBOX.oc1.1.1.1.1700000000000000000.0"), pub("$JS.API.STREAM.INFO.OBJ_MCP_CLAIMS_test")]
      : [
          pub("$JS.API.CONSUMER.INFO.LYRA_OUTBOX.discord"),
          pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.discord"),
          pub("$JS.API.CONSUMER.DELETE.LYRA_OUTBOX.discord"),
          pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.discord.lyra.outbox.openai.*"),
          pub("$JS.API.CONSUMER.DURABLE.CREATE.LYRA_OUTBOX.discord"),
          pub("$JS.ACK.LYRA_OUTBOX.discord.1.1.1.1700000000000000000.0"),
          pub("$JS.ACK.LYRA_OUTBOX.oc1.1.1.1.1700000000000000000.0"),
          pub("$JS.API.CONSUMER.DELETE.LYRA_INBOX.lyra-core"),
          pub("$O.LYRA_MEDIA.C.abc"), // it handles no media
          pub("$JS.API.STREAM.INFO.OBJ_LYRA_MEDIA"),
        ];
  return [
    {
      user: "agent-gpu-a",
      allow: [
        { op: "respond", subject: subjects.role("router"), queue: Q },
        sub(subjects.role("pragmatist"), Q),
        sub(subjects.agentPrompt("tester", "router"), Q),
        sub(subjects.agentStatus("tester", "pragmatist"), Q),
        sub(`${subjects.role("pragmatist")}.*`, undefined, subjects.roleInstance("pragmatist", "i1")),
        sub(subjects.cancelAll, undefined, subjects.cancel("r1")),
        sub("$SRV.PING"),
        sub("$SRV.INFO.agents"),
        sub("$SRV.STATS.agents.id1"),
        sub("_INBOX.agent-gpu-a.n1.*", undefined, inbox("agent-gpu-a")),
        pub(subjects.heartbeat("tester", "router")),
        pub(subjects.roleState("pragmatist", "i1")),
        pub(list("pragmatist", "clock")),
        pub(call("pragmatist", "clock", "now")),
        pub(`${inbox("agent-gpu-a")}.ctl`),
        pub("$JS.API.INFO"),
        pub("$JS.API.STREAM.INFO.OBJ_MCP_CLAIMS_test"),
        pub("$JS.API.STREAM.PURGE.OBJ_MCP_CLAIMS_test"), // taking a claim deletes it: a purge of its chunks
        // Its pragmatist gets a user's media: it reads and stores it, and answers the read's flow control.
        pub("$JS.API.STREAM.MSG.GET.OBJ_LYRA_MEDIA"),
        pub("$O.LYRA_MEDIA.C.abc"),
        pub("$JS.API.CONSUMER.CREATE.OBJ_LYRA_MEDIA.oc1.$O.LYRA_MEDIA.C.abc"),
        pub("$JS.FC.OBJ_LYRA_MEDIA.oc1.x1"),
      ],
      deny: [
        ...agentDeny("philosopher", call("philosopher", "clock", "now")),
        pub("$JS.API.STREAM.PURGE.OBJ_LYRA_MEDIA"),
        pub("$JS.API.STREAM.DELETE.OBJ_LYRA_MEDIA"),
        pub("$JS.API.CONSUMER.CREATE.OBJ_LYRA_MEDIA.oc1.$O.LYRA_MEDIA.M.abc"), // chunks only, never the object list
        pub("$O.MCP_CLAIMS_test.C.abc"), // it takes claims, it does not park them
        pub(call("pragmatist", "clock", "wait")), // a tool of a granted server, not granted
        pub(call("router", "clock", "now")), // a role of this host without grants
      ],
    },
    {
      user: "agent-gpu-b",
      allow: [
        { op: "respond", subject: subjects.agentPrompt("tester", "voice"), queue: Q },
        sub(subjects.role("philosopher"), Q),
        pub(call("philosopher", "clock", "wait")), // clock.* grants every clock tool
        pub(call("philosopher", "clock", "now")),
        pub(subjects.heartbeat("tester", "voice")),
      ],
      deny: [...agentDeny("router", call("pragmatist", "clock", "now")), pub(call("voice", "clock", "now"))],
    },
    {
      // A voice never gets a user's media and calls no tool.
      user: "agent-gpu-c",
      allow: [{ op: "respond", subject: subjects.role("voice"), queue: Q }, pub(subjects.heartbeat("tester", "voice"))],
      deny: [
        pub("$JS.API.STREAM.INFO.OBJ_LYRA_MEDIA"),
        pub("$JS.API.STREAM.MSG.GET.OBJ_LYRA_MEDIA"),
        pub("$O.LYRA_MEDIA.C.abc"),
        pub("$JS.API.STREAM.INFO.OBJ_MCP_CLAIMS_test"),
        pub(`${inbox("agent-gpu-c")}.ctl`),
      ],
    },
    {
      user: "core",
      allow: [
        pub(subjects.role("router")),
        pub(subjects.roleInstance("voice", "i1")),
        pub(subjects.cancel("r1")),
        pub(subjects.log("c1")),
        pub(subjects.outbox("cli", "c1")),
        pub(subjects.outboxPartial("discord", "c1")),
        pub(subjects.dead("cli")),
        pub("$JS.API.INFO"),
        pub("$JS.API.STREAM.INFO.LYRA_INBOX"),
        pub("$JS.API.STREAM.UPDATE.LYRA_LOG"),
        pub("$JS.API.CONSUMER.INFO.LYRA_INBOX.lyra-core"),
        pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_INBOX.lyra-core"),
        pub("$JS.ACK.LYRA_INBOX.lyra-core.1.5.5.1700000000000000000.0"),
        pub("$JS.API.DIRECT.GET.LYRA_LOG.lyra.log.c1"),
        pub("$JS.API.CONSUMER.CREATE.LYRA_LOG.oc1.lyra.log.c1"),
        pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_LOG.oc1"),
        pub("$JS.API.CONSUMER.DELETE.LYRA_LOG.oc1"),
        sub(subjects.roleStateAll, undefined, subjects.roleState("voice", "i1")),
        sub("_INBOX.core.n1.*", undefined, inbox("core")),
      ],
      deny: [
        sub(subjects.role("router"), Q),
        sub("lyra.>", undefined, "lyra.log.c1"),
        sub("_INBOX.agent-gpu-a.>", undefined, inbox("agent-gpu-a")),
        pub(subjects.inbox("cli", "c1")),
        pub(call("pragmatist", "clock", "now")),
        pub(subjects.heartbeat("tester", "router")),
        pub("$JS.API.STREAM.DELETE.LYRA_LOG"),
        pub("$JS.API.STREAM.PURGE.LYRA_LOG"),
        pub("$JS.API.CONSUMER.DELETE.LYRA_INBOX.lyra-core"),
        pub("$JS.API.CONSUMER.CREATE.LYRA_INBOX.thief"),
        pub("$JS.API.CONSUMER.CREATE.LYRA_LOG.oc1"), // a log reader without a filter
        pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.oc1.lyra.outbox.discord.*"),
        pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.discord"),
        pub("$JS.API.STREAM.INFO.OBJ_LYRA_MEDIA"), // it passes media references on, never reads them
        pub("$JS.API.STREAM.PURGE.OBJ_LYRA_MEDIA"),
        pub(`${inbox("core")}.ctl`), // it calls no tool
        pub(inbox("cli")),
      ],
    },
    {
      user: "tools",
      allow: [
        { op: "respond", subject: subjects.mcpServer("test", "clock"), queue: subjects.mcpQueue("clock") },
        sub("$SRV.INFO.mcp-clock"),
        sub(`${inbox("agent-gpu-a")}.ctl`),
        sub(`${inbox("agent-gpu-b")}.ctl`),
        sub(`${inbox("cli")}.ctl`), // lyra tools call, lyra mcp
        pub(subjects.mcpHeartbeat("test", "clock")),
        pub("$JS.API.STREAM.CREATE.OBJ_MCP_CLAIMS_test"),
        pub("$O.MCP_CLAIMS_test.C.abc"),
      ],
      deny: [
        sub(subjects.mcpServer("test", "clock"), "thieves", call("pragmatist", "clock", "now")),
        sub("_INBOX.agent-gpu-a.>", undefined, inbox("agent-gpu-a")),
        sub("lyra.>", undefined, "lyra.log.c1"),
        pub(subjects.log("c1")),
        pub(call("pragmatist", "clock", "now")),
        pub(subjects.mcpHeartbeat("test", "other")),
        pub("$JS.API.STREAM.INFO.LYRA_LOG"),
        pub(inbox("core")),
        // Cancels come only from the processes that call tools.
        sub(`${inbox("core")}.ctl`),
        sub(`${inbox("serve")}.ctl`),
        sub(`${inbox("discord")}.ctl`),
        sub(`${inbox("agent-gpu-c")}.ctl`),
        sub("_INBOX.*.*.*.ctl", undefined, `${inbox("core")}.ctl`),
        pub("$JS.API.STREAM.PURGE.OBJ_MCP_CLAIMS_test"),
        pub("$O.LYRA_MEDIA.C.abc"), // no media tool server in this config
      ],
    },
    ...(["discord", "serve"] as const).map((door): Row => {
      const ch = door === "discord" ? "discord" : "openai";
      const other = door === "discord" ? "openai" : "discord";
      return {
        user: door,
        allow: [
          pub(subjects.inbox(ch, "c1")),
          sub(subjects.outbox(ch, "c1")),
          sub(`${subjects.outbox(ch, "c1")}.>`, undefined, subjects.outboxPartial(ch, "c1")),
          ...(door === "discord" ? discordOwn : serveOwn),
        ],
        deny: [
          pub(`$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.d1.lyra.outbox.${other}.*`),
          pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.d1"), // unfiltered: every channel's replies
          pub("$JS.API.CONSUMER.CREATE.LYRA_INBOX.d1"),
          ...(door === "discord" ? [pub(subjects.role("voice")), sub(subjects.roleStateAll, undefined, subjects.roleState("voice", "i1"))] : [pub(subjects.outbox(ch, "c1"))]),
          ...outboxDeny(door),
          pub("$JS.API.STREAM.MSG.GET.LYRA_OUTBOX"), // its body names any channel's subject
          pub("$JS.API.DIRECT.GET.LYRA_OUTBOX"), // likewise
          pub(`$JS.API.DIRECT.GET.LYRA_OUTBOX.lyra.outbox.${other}.c1`),
          pub("$JS.API.STREAM.PURGE.OBJ_LYRA_MEDIA"),
          pub("$JS.API.STREAM.PURGE.LYRA_OUTBOX"),
          pub(`${inbox(door)}.ctl`), // it calls no tool
          pub(subjects.inbox(other, "c1")),
          pub(subjects.inbox("cli", "c1")),
          sub(subjects.outbox(other, "c1")),
          sub(subjects.outbox("cli", "c1")),
          sub("lyra.>", undefined, "lyra.log.c1"),
          sub(`_INBOX.${door === "discord" ? "serve" : "discord"}.>`, undefined, inbox(door === "discord" ? "serve" : "discord")),
          pub(subjects.log("c1")),
          pub("$JS.API.STREAM.INFO.LYRA_LOG"),
          pub(call("pragmatist", "clock", "now")),
        ],
      };
    }),
    {
      user: "cli",
      allow: [
        pub(subjects.inbox("cli", "c1")),
        sub(subjects.outbox("cli", "c1")),
        sub("lyra.>", undefined, subjects.log("c1")), // lyra tap
        sub("agents.>", undefined, subjects.heartbeat("tester", "voice")),
        pub("$SRV.INFO"),
        pub("$SRV.STATS.agents"),
        pub(call("_", "clock", "now")),
        pub(list("_", "clock")),
        pub("$JS.API.STREAM.INFO.LYRA_LOG"),
        pub("$JS.API.CONSUMER.CREATE.LYRA_LOG.oc1.lyra.log.c1"),
        pub(`${inbox("cli")}.ctl`),
        pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.oc1.lyra.outbox.cli.c1"), // the stored replies, read by the operator
        pub("$O.LYRA_MEDIA.C.abc"), // lyra ask --image
        pub("$JS.FC.OBJ_LYRA_MEDIA.oc1.x1"), // lyra ask --save
        pub("$JS.API.STREAM.PURGE.OBJ_MCP_CLAIMS_test"), // lyra tools call takes a claim
      ],
      deny: [
        pub(subjects.log("c1")),
        pub(subjects.outbox("cli", "c1")),
        pub(subjects.role("router")),
        pub(subjects.inbox("discord", "c1")),
        pub("$JS.API.STREAM.DELETE.LYRA_LOG"),
        pub("$JS.API.CONSUMER.CREATE.LYRA_INBOX.thief"),
        sub("_INBOX.core.>", undefined, inbox("core")),
        sub(subjects.role("router"), Q), // tap reads lyra.>, but must not join a role's queue group
        sub(subjects.agentPrompt("tester", "router"), Q),
        sub(subjects.mcpServer("test", "clock"), subjects.mcpQueue("clock"), call("pragmatist", "clock", "now")),
        sub("$JS.API.>", undefined, "$JS.API.INFO"),
        pub("$JS.API.STREAM.PURGE.OBJ_LYRA_MEDIA"),
        pub("$JS.API.STREAM.MSG.GET.LYRA_OUTBOX"),
        pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.discord"), // it reads the stored replies, not Discord's consumer
        pub("$JS.API.CONSUMER.DELETE.LYRA_OUTBOX.discord"),
        pub("$JS.ACK.LYRA_OUTBOX.discord.1.1.1.1700000000000000000.0"),
        pub("$JS.API.CONSUMER.DELETE.LYRA_INBOX.lyra-core"),
      ],
    },
  ];
}

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
        else problems.push(`${row.user} should be allowed to ${a.op} ${a.subject}${"queue" in a && a.queue ? ` (queue ${a.queue})` : ""}: ${r}`);
      }
      for (const a of row.deny) {
        const r = await attempt(me, denials, admin, adminSeen, a);
        if (r === "denied") denied++;
        else problems.push(`${row.user} should be denied ${a.op} ${a.subject}${"queue" in a && a.queue ? ` (queue ${a.queue})` : ""}: ${r}`);
      }
      expect(me.nc.isClosed(), `${row.user}'s connection survived its denials`).toBe(false);
    }
    process.stdout.write(`permission matrix: allowed ${allowed} ok, forbidden ${denied} denied, ${problems.length} wrong\n`);
    expect(problems).toEqual([]);
    expect(allowed).toBeGreaterThan(50);
    expect(denied).toBeGreaterThan(70);
  }, 60_000);

  it("refuse the JetStream calls that would read, pull, take over, delete or purge what is not the caller's, and none of them has an effect", async () => {
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
    await jsm.consumers.add(StreamName.Outbox, { durable_name: "discord", filter_subject: discordFilter, deliver_policy: DeliverPolicy.All, ack_policy: AckPolicy.Explicit });
    await jsm.consumers.add(StreamName.Outbox, { name: "oc_serve_1", filter_subject: serveFilter, ack_policy: AckPolicy.None, inactive_threshold: nanos(120_000) });
    const image = fakePng("effects", 400_000);
    const ref = await putMedia(admin, image, { placement: "store" });
    const mediaStream = `OBJ_${MEDIA_BUCKET}`;
    const mediaMessages = (await jsm.streams.info(mediaStream)).state.messages;

    const takeOver = (name: string, filter: string) => ({ stream_name: StreamName.Outbox, config: { name, durable_name: name, filter_subject: filter, deliver_policy: "all", ack_policy: "explicit" } });
    const api = "$JS.API";
    const tries: [user: string, subject: string, body?: unknown][] = [
      // serve: the stored-reply lookup of another channel, and Discord's consumer.
      ["serve", `${api}.STREAM.MSG.GET.${StreamName.Outbox}`, { last_by_subj: subjects.outbox("discord", "c1") }],
      ["serve", `${api}.DIRECT.GET.${StreamName.Outbox}`, { last_by_subj: subjects.outbox("discord", "c1") }],
      ["serve", `${api}.DIRECT.GET.${StreamName.Outbox}.${subjects.outbox("discord", "c1")}`],
      ["serve", `${api}.CONSUMER.INFO.${StreamName.Outbox}.discord`],
      ["serve", `${api}.CONSUMER.MSG.NEXT.${StreamName.Outbox}.discord`, { batch: 1, no_wait: true }],
      ["serve", `${api}.CONSUMER.CREATE.${StreamName.Outbox}.discord.${subjects.outboxChannel("openai")}`, takeOver("discord", subjects.outboxChannel("openai"))],
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
      ...["serve", "discord", "cli", "core", "tools", "agent-gpu-a", "agent-gpu-b", "agent-gpu-c"].flatMap((u): [string, string, unknown?][] => [
        [u, `${api}.STREAM.PURGE.${mediaStream}`, {}],
        [u, `${api}.STREAM.DELETE.${mediaStream}`],
        [u, `${api}.STREAM.PURGE.${StreamName.Outbox}`, {}],
      ]),
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
    if (discordConsumer?.config.filter_subject !== discordFilter) problems.push(`discord's consumer: ${discordConsumer ? `filter now ${discordConsumer.config.filter_subject}` : "deleted"}`);
    else if (discordConsumer.delivered.stream_seq !== 0) problems.push(`discord's consumer: ${discordConsumer.delivered.stream_seq} delivered to someone else`);
    const serveConsumer = await jsm.consumers.info(StreamName.Outbox, "oc_serve_1").catch(() => null);
    if (serveConsumer?.config.filter_subject !== serveFilter) problems.push(`serve's consumer: ${serveConsumer ? `filter now ${serveConsumer.config.filter_subject}` : "deleted"}`);
    else if (serveConsumer.delivered.stream_seq !== 0) problems.push(`serve's consumer: ${serveConsumer.delivered.stream_seq} delivered to someone else`);
    const outboxMessages = (await jsm.streams.info(StreamName.Outbox).catch(() => null))?.state.messages;
    if (outboxMessages !== 2) problems.push(`the outbox holds ${outboxMessages ?? "no stream"} messages, not 2`);
    const media = (await jsm.streams.info(mediaStream).catch(() => null))?.state.messages;
    if (media !== mediaMessages) problems.push(`the media store holds ${media ?? "no stream"} messages, not ${mediaMessages}`);
    else if (!Buffer.from(await readMedia(admin, ref)).equals(image)) problems.push("the stored image reads back different");
    process.stdout.write(`JetStream effect tests: ${tries.length} attempts, ${denied} denied, ${problems.length} wrong\n`);
    expect(problems).toEqual([]);
  }, 120_000);
});
