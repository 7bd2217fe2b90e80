/**
 * The permission matrix's rows: the mesh config it runs on, and per generated user what its
 * process does (read from the code that uses each subject) and what it must not.
 */
import { subjects } from "../../../mesh/subjects.ts";
import { pub, sub, type Row } from "./matrix.ts";

export const YAML = `
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
usage: { budgets: { default: { tokens: 1000 } } }
`;

const call = (role: string, server: string, tool: string) => subjects.mcpRequest("test", role, server, "tools/call", tool);
const list = (role: string, server: string) => subjects.mcpRequest("test", role, server, "tools/list");
const Q = subjects.agentsQueue;
const inbox = (user: string) => `_INBOX.${user}.n1.t1`;

/** What each process does (read from the code that uses each subject), and what it must not. */
export function matrix(): Row[] {
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
    pub(subjects.usage("openai")), // the usage of its direct role calls
  ];
  // Another process's consumer, or a consumer not its own, on the outbox.
  const outboxDeny = (door: "discord" | "serve") =>
    door === "discord"
      ? [
          pub("$JS.API.CONSUMER.CREATE.LYRA_OUTBOX.d1.lyra.outbox.discord.*"),
          pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.oc1"),
          pub("$JS.API.CONSUMER.DELETE.LYRA_OUTBOX.oc1"),
          pub("$JS.API.CONSUMER.DELETE.LYRA_OUTBOX.discord"),
          pub("$JS.ACK.LYRA_OUTBOX.oc1.1.1.1.1700000000000000000.0"),
          pub("$JS.API.STREAM.INFO.OBJ_MCP_CLAIMS_test"),
        ]
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
        pub("$JS.API.DIRECT.GET.LYRA_OUTBOX.lyra.outbox.cli.c1"), // a re-run turn looks up its stored reply
        pub("$JS.API.CONSUMER.CREATE.LYRA_LOG.oc1.lyra.log.c1"),
        pub("$JS.API.CONSUMER.MSG.NEXT.LYRA_LOG.oc1"),
        pub("$JS.API.CONSUMER.DELETE.LYRA_LOG.oc1"),
        // The budgets' per-day totals (usage.budgets is set).
        pub("$JS.API.STREAM.CREATE.KV_LYRA_USAGE"),
        pub("$KV.LYRA_USAGE.2026-12-04.YW5u"),
        pub("$JS.API.DIRECT.GET.KV_LYRA_USAGE.$KV.LYRA_USAGE.2026-12-04.YW5u"),
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
          ...(door === "discord"
            ? [pub(subjects.role("voice")), sub(subjects.roleStateAll, undefined, subjects.roleState("voice", "i1"))]
            : [pub(subjects.outbox(ch, "c1"))]),
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
          pub(subjects.usage(other)),
          pub("$KV.LYRA_USAGE.2026-12-04.YW5u"), // the budget totals are the conductor's
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
