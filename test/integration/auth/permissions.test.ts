/**
 * The permission matrix: nats-server runs with the authorization `lyra auth` generates; every
 * generated user connects and tries each publish and subscribe its process makes, and ones it must
 * not. An allowed action must work end to end (a test admin sees the publish, a subscription gets
 * the admin's message); a forbidden one must be refused by the server with a permission error and
 * deliver nothing.
 */
import { setImmediate as tick } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { PermissionViolationError, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { connectAs, generateAuth } from "./helpers.ts";

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
`;

type Action =
  | { op: "pub"; subject: string }
  | { op: "sub"; subject: string; queue?: string; probe?: string }
  /** Answer a request (three messages, as a streaming reply) sent by someone else to `subject`. */
  | { op: "respond"; subject: string; queue?: string };
interface Row {
  user: string;
  allow: Action[];
  deny: Action[];
}

const pub = (subject: string): Action => ({ op: "pub", subject });
const sub = (subject: string, queue?: string, probe?: string): Action => ({ op: "sub", subject, queue, probe });
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
      ],
      deny: [
        ...agentDeny("philosopher", call("philosopher", "clock", "now")),
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
        pub("$JS.API.DIRECT.GET.LYRA_OUTBOX.lyra.outbox.cli.c1"), // a re-run turn looks up its stored reply
        pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_LOG.oc1"),
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
        pub(inbox("cli")),
      ],
    },
    {
      user: "tools",
      allow: [
        { op: "respond", subject: subjects.mcpServer("test", "clock"), queue: subjects.mcpQueue("clock") },
        sub("$SRV.INFO.mcp-clock"),
        sub(`${inbox("agent-gpu-a")}.ctl`),
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
          pub(`$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.d1.lyra.outbox.${ch}.*`),
          pub(`$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.d1`),
          pub("$O.LYRA_MEDIA.C.abc"),
          ...(door === "serve" ? [pub(subjects.role("voice")), pub(subjects.roleInstance("voice", "i1")), sub(subjects.roleStateAll, undefined, subjects.roleState("voice", "i1")), pub(subjects.cancel("r1")), pub("$JS.API.CONSUMER.INFO.LYRA_INBOX.lyra-core"), pub("$JS.API.STREAM.MSG.GET.LYRA_OUTBOX")] : []),
        ],
        deny: [
          pub(`$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.d1.lyra.outbox.${other}.*`),
          pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.d1"), // unfiltered: every channel's replies
          pub("$JS.API.CONSUMER.CREATE.LYRA_INBOX.d1"),
          ...(door === "discord" ? [pub(subjects.role("voice")), sub(subjects.roleStateAll, undefined, subjects.roleState("voice", "i1")), pub("$JS.API.STREAM.MSG.GET.LYRA_OUTBOX")] : [pub(subjects.outbox(ch, "c1"))]),
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
      ],
    },
  ];
}

/** Permission errors of one connection, as nats.js reports them (status events, closed subscriptions). */
function watchDenials(nc: NatsConnection): PermissionViolationError[] {
  const seen: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error" && s.error instanceof PermissionViolationError) seen.push(s.error);
  })();
  return seen;
}

/** Runs one action: "allowed" when it worked end to end, "denied" when the server refused it. */
async function attempt(me: Mesh, denials: PermissionViolationError[], admin: Mesh, adminSeen: Msg[], a: Action): Promise<string> {
  const refused = (op: "publish" | "subscription") => denials.some((e) => e.operation === op && e.subject === a.subject);
  // A round trip on the sender, then on both receivers: whatever the server routed before a PONG
  // reaches that connection before it, so after this every delivery and -ERR has arrived.
  const settle = async (sender: NatsConnection) => {
    await sender.flush();
    await admin.nc.flush();
    await me.nc.flush();
    await tick();
  };
  if (a.op === "pub") {
    const marker = `m${Math.random()}`;
    me.nc.publish(a.subject, marker);
    await settle(me.nc);
    const delivered = adminSeen.some((m) => m.subject === a.subject && m.string() === marker);
    if (refused("publish")) return delivered ? "denied but delivered" : "denied";
    return delivered ? "allowed" : "no error, not delivered";
  }
  const got: Msg[] = [];
  const s = me.nc.subscribe(a.subject, { queue: a.queue, callback: (e, m) => void (e ? undefined : got.push(m)) });
  await settle(me.nc);
  if (a.op === "respond") {
    const replies: Msg[] = [];
    const rs = admin.nc.subscribe("_INBOX.core.resp.*", { callback: (e, m) => void (e ? undefined : replies.push(m)) });
    await admin.nc.flush();
    const probe = a.subject.replace(/\*/g, "x1").replace(/>$/, "tools.call.now");
    admin.nc.publish(probe, "q", { reply: "_INBOX.core.resp.1" });
    await settle(admin.nc);
    for (const m of got) for (const part of ["ack", "chunk", "end"]) m.respond(part);
    await settle(me.nc);
    rs.unsubscribe();
    s.unsubscribe();
    if (refused("subscription") || refused("publish") || denials.some((e) => e.subject === "_INBOX.core.resp.1")) return "denied";
    return got.length === 1 && replies.length === 3 ? "allowed" : `request seen ${got.length}, replies ${replies.length}`;
  }
  const probe = a.probe ?? a.subject;
  admin.nc.publish(probe, "probe");
  await settle(admin.nc);
  const closedWithError = s.isClosed();
  if (!s.isClosed()) s.unsubscribe();
  const denied = denials.some((e) => e.operation === "subscription" && e.subject === a.subject) || closedWithError;
  if (denied) return got.length > 0 ? "denied but delivered" : "denied";
  return got.length === 1 ? "allowed" : `no error, ${got.length} delivered`;
}

describe("the permissions lyra auth generates", () => {
  it("let every process do what it does and nothing else (the permission matrix)", async () => {
    const auth = await generateAuth(YAML);
    // A test-only admin in the same account sees every publish and sends every probe.
    const conf = auth.conf.replace("    users: [\n", '    users: [\n      { user: admin, password: "admin-test-only" }\n');
    await using server = await startNatsServer({ config: conf });
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
});
