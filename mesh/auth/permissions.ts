/**
 * Who may publish and subscribe to what: one NATS user per process of a mesh config, with the
 * subjects that process uses and no others. Every subject comes from mesh/subjects.ts; the
 * JetStream API subjects are scoped to the streams, consumers and buckets each process touches.
 */
import type { MeshConfig } from "../../schemas/config.ts";
import { MEDIA_BUCKET } from "../media.ts";
import { StreamName } from "../streams.ts";
import { subjects, token } from "../subjects.ts";

/** What a user's process is; the process name is also the user name's first part. */
export const ProcessKind = { Agent: "agent", Core: "core", Tools: "tools", FrontDoor: "frontdoor", Cli: "cli" } as const;
export type ProcessKind = (typeof ProcessKind)[keyof typeof ProcessKind];

/** One NATS user: its permissions and the private inbox prefix it must connect with. */
export interface MeshUser {
  /** `agent-<host>`, `core`, `tools`, `discord`, `serve` or `cli`; also its creds file name. */
  name: string;
  kind: ProcessKind;
  /** The connect option `inboxPrefix`: `_INBOX.<name>`; only this user may subscribe under it. */
  inboxPrefix: string;
  /** Subjects it may publish to. */
  publish: string[];
  /** Subjects it may subscribe to; `"<subject> <queue>"` allows that queue group only. */
  subscribe: string[];
  /** Subscriptions refused even where `subscribe` allows them (a reader must not join a queue group). */
  subscribeDeny: string[];
  /** Responders may publish to the reply subject of a request they received (allow_responses). */
  responses: boolean;
}

/** The front doors and their channel tokens (`lyra.inbox.<channel>.<conversation>`). */
export const FRONT_DOORS: Readonly<Record<string, string>> = { discord: "discord", serve: "openai" };
/** The channel `lyra ask` publishes on. */
export const CLI_CHANNEL = "cli";
/** The knowledge servers' default KV cache bucket (tools/builtin/knowledge). */
export const DEFAULT_TOOL_CACHE_BUCKET = "LYRA_TOOL_CACHE";
const INBOX_ROOT = "_INBOX";
/** The conductor's durable inbox consumer (mesh/conductor). */
const CORE_DURABLE = "lyra-core";

export function inboxPrefixOf(user: string): string {
  return `${INBOX_ROOT}.${token("user", user)}`;
}

/** Every user the config's processes need, in a stable order. */
export function meshUsers(cfg: MeshConfig): MeshUser[] {
  const tenant = cfg.mesh.name;
  const owner = cfg.mesh.owner;
  const roles = Object.keys(cfg.roles);
  const users: MeshUser[] = [];
  const user = (name: string, kind: ProcessKind, publish: string[], subscribe: string[], responses = false, subscribeDeny: string[] = []) => {
    const inbox = inboxPrefixOf(name);
    // Its own replies, and the `.ctl` cancel it may send on a tool request's reply subject.
    users.push({ name, kind, inboxPrefix: inbox, publish: uniq([...publish, `${inbox}.*.*.ctl`]), subscribe: uniq([...subscribe, `${inbox}.>`]), subscribeDeny, responses });
  };

  for (const [host, h] of Object.entries(cfg.hosts)) {
    const pub: string[] = [];
    const sub: string[] = [subjects.cancelAll, ...serviceSubjects("agents")];
    for (const r of h.roles) {
      sub.push(`${subjects.role(r)} ${subjects.agentsQueue}`);
      sub.push(`${subjects.agentPrompt(owner, r)} ${subjects.agentsQueue}`);
      sub.push(`${subjects.agentStatus(owner, r)} ${subjects.agentsQueue}`);
      sub.push(`${subjects.role(r)}.*`); // lyra.<role>.<instance>: one replica's own subject
      pub.push(subjects.heartbeat(owner, r), `lyra.state.${r}.*`);
      pub.push(...toolSubjects(cfg, tenant, r));
    }
    if (h.roles.some((r) => cfg.roles[r]!.tools.length > 0)) pub.push(...objectStore(claimsBucket(tenant)));
    pub.push(...objectStore(MEDIA_BUCKET));
    user(`agent-${host}`, ProcessKind.Agent, [JS_INFO, ...pub], sub, true);
  }

  const corePub = [JS_INFO, subjects.logAll, subjects.outboxAll, subjects.deadAll, subjects.cancelAll];
  for (const r of roles) corePub.push(subjects.role(r), `${subjects.role(r)}.*`);
  for (const s of Object.values(StreamName)) corePub.push(...streamAdmin(s));
  corePub.push(...consumerApi(StreamName.Inbox, CORE_DURABLE), ...streamRead(StreamName.Log), ...directGet(StreamName.Inbox));
  corePub.push(...objectStore(MEDIA_BUCKET));
  // A re-run turn looks up its stored reply (last by subject) before publishing it again.
  corePub.push(`$JS.API.DIRECT.GET.${StreamName.Outbox}.${subjects.outboxStored}`);
  user("core", ProcessKind.Core, corePub, [subjects.roleStateAll]);

  const toolsPub = [JS_INFO, ...objectStore(claimsBucket(tenant))];
  // A tool server's cancel arrives on `<caller's reply subject>.ctl`, under the caller's inbox.
  const toolsSub = [`${INBOX_ROOT}.*.*.*.ctl`];
  for (const [server, s] of Object.entries(cfg.tools.servers)) {
    toolsSub.push(`${subjects.mcpServer(tenant, server)} ${subjects.mcpQueue(server)}`, ...serviceSubjects(`mcp-${server}`));
    toolsPub.push(subjects.mcpHeartbeat(tenant, server));
    if ("builtin" in s && s.builtin === "knowledge") {
      const bucket = typeof s.options?.cache_bucket === "string" ? s.options.cache_bucket : DEFAULT_TOOL_CACHE_BUCKET;
      toolsPub.push(...kvBucket(bucket));
    }
  }
  user("tools", ProcessKind.Tools, toolsPub, toolsSub, true);

  for (const [name, channel] of Object.entries(FRONT_DOORS)) {
    const doorPub = [`lyra.inbox.${channel}.*`, JS_INFO, ...outboxReader(channel), ...objectStore(MEDIA_BUCKET)];
    if (name === "serve") {
      // `lyra serve` also offers each role as a model (direct role calls), checks that a conductor
      // consumes the inbox, and looks up a conversation's last stored reply.
      for (const r of roles) doorPub.push(subjects.role(r), `${subjects.role(r)}.*`);
      doorPub.push(subjects.cancelAll, `$JS.API.CONSUMER.INFO.${StreamName.Inbox}.${CORE_DURABLE}`, `$JS.API.STREAM.MSG.GET.${StreamName.Outbox}`);
    }
    const doorSub = [subjects.outboxChannel(channel), `lyra.outbox.${channel}.*.>`];
    // Its role client picks a replica by the capacity feed, like the conductor's.
    if (name === "serve") doorSub.push(subjects.roleStateAll);
    user(name, ProcessKind.FrontDoor, doorPub, doorSub);
  }

  // The operator's console: ask, tap, status, log, tools ls/call, mcp. It reads the mesh's traffic
  // but cannot serve a role, write the log or outbox, or manage streams.
  const cliPub = [`lyra.inbox.${CLI_CHANNEL}.*`, `mcp.v1.req.${tenant}.*.*.>`, "$SRV.*", "$SRV.*.>", JS_INFO];
  cliPub.push(...streamRead(StreamName.Log), ...streamRead(StreamName.Outbox), ...objectStore(claimsBucket(tenant)), ...objectStore(MEDIA_BUCKET));
  // Reading lyra.> must not let it join the queue groups that share out role and tool requests.
  const queues = [`lyra.> ${subjects.agentsQueue}`, `agents.> ${subjects.agentsQueue}`, ...Object.keys(cfg.tools.servers).map((s) => `mcp.v1.> ${subjects.mcpQueue(s)}`)];
  user("cli", ProcessKind.Cli, cliPub, ["lyra.>", "agents.>", "mcp.v1.>"], false, queues);
  return users;
}

/** A role's tool requests: tools/list of each granted server, tools/call of each granted tool. */
function toolSubjects(cfg: MeshConfig, tenant: string, role: string): string[] {
  const out: string[] = [];
  for (const grant of cfg.roles[role]!.tools) {
    const [server, tool] = grant.split(".") as [string, string];
    const head = `mcp.v1.req.${tenant}.${role}.${server}`;
    out.push(`${head}.tools.list._`, `${head}.tools.call.${tool}`);
  }
  return out;
}

/** The $SRV discovery subjects a micro service named `name` subscribes to (PING, INFO, STATS). */
function serviceSubjects(name: string): string[] {
  return ["$SRV.*", `$SRV.*.${name}`, `$SRV.*.${name}.*`];
}

const JS_INFO = "$JS.API.INFO";
const streamAdmin = (s: string) => ["INFO", "CREATE", "UPDATE"].map((op) => `$JS.API.STREAM.${op}.${s}`);
const directGet = (s: string) => [`$JS.API.DIRECT.GET.${s}`, `$JS.API.DIRECT.GET.${s}.>`];
/** One named consumer: create/update, info, pull, and acks. */
const consumerApi = (s: string, name: string) => [
  `$JS.API.CONSUMER.CREATE.${s}.${name}`,
  `$JS.API.CONSUMER.CREATE.${s}.${name}.>`,
  `$JS.API.CONSUMER.DURABLE.CREATE.${s}.${name}`,
  `$JS.API.CONSUMER.INFO.${s}.${name}`,
  `$JS.API.CONSUMER.MSG.NEXT.${s}.${name}`,
  `$JS.ACK.${s}.${name}.>`,
];
/** Reading a stream through ephemeral or ordered consumers and direct gets. */
const streamRead = (s: string) => [
  `$JS.API.STREAM.INFO.${s}`,
  `$JS.API.STREAM.MSG.GET.${s}`,
  ...["CREATE", "INFO", "DELETE", "MSG.NEXT"].map((op) => `$JS.API.CONSUMER.${op}.${s}.>`),
  `$JS.API.CONSUMER.CREATE.${s}`,
  `$JS.ACK.${s}.>`,
  ...directGet(s),
];
/**
 * A front door's consumers on the outbox: created only with a filter inside its channel (nats.js
 * names the filter in the create subject), then read and acked.
 */
const outboxReader = (channel: string) => {
  const s = StreamName.Outbox;
  return [`$JS.API.CONSUMER.CREATE.${s}.*.lyra.outbox.${channel}.>`, `$JS.API.CONSUMER.CREATE.${s}.*.lyra.outbox.${channel}.*`, ...["INFO", "DELETE", "MSG.NEXT"].map((op) => `$JS.API.CONSUMER.${op}.${s}.*`), `$JS.API.STREAM.INFO.${s}`, `$JS.ACK.${s}.>`];
};
/** An Object Store bucket: create/open, put, get, delete. */
const objectStore = (bucket: string) => [`$O.${bucket}.>`, `$JS.API.STREAM.CREATE.OBJ_${bucket}`, `$JS.API.STREAM.PURGE.OBJ_${bucket}`, ...streamRead(`OBJ_${bucket}`)];
/** A KV bucket: create/open, get, put. */
const kvBucket = (bucket: string) => [`$KV.${bucket}.>`, `$JS.API.STREAM.CREATE.KV_${bucket}`, `$JS.API.STREAM.INFO.KV_${bucket}`, `$JS.API.STREAM.MSG.GET.KV_${bucket}`, ...directGet(`KV_${bucket}`)];

export function claimsBucket(tenant: string): string {
  return `MCP_CLAIMS_${tenant}`; // tools/claim.ts names it so; tools/ sits above mesh/
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}
