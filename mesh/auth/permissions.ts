/**
 * Who may publish and subscribe to what: one NATS user per process of a mesh config, with the
 * subjects that process uses and no others. Every subject comes from mesh/subjects.ts; the
 * JetStream API grants (mesh/auth/jetstream.ts) are scoped to the streams, consumers and buckets
 * each process touches and the operations it performs on them.
 */
import { RoleKind, type MeshConfig } from "../../schemas/index.ts";
import { MEDIA_BUCKET } from "../media.ts";
import { ROLLOUT_BUCKET } from "../rollout.ts";
import { StreamName } from "../streams.ts";
import { subjects } from "../subjects.ts";
import {
  directGetAny,
  directGetLast,
  durableConsumer,
  consumerInfo,
  JS_INFO,
  kvBucket,
  kvWatch,
  objectDelete,
  objectRead,
  objectWrite,
  orderedReads,
  protectDurable,
  streamAdmin,
} from "./jetstream.ts";

/** What a user's process is; the process name is also the user name's first part. */
export const ProcessKind = { Agent: "agent", Core: "core", Tools: "tools", FrontDoor: "frontdoor", Cli: "cli", Leaf: "leaf" } as const;
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
  /** Publishes refused even where `publish` allows them (another process's durable consumer). */
  publishDeny: string[];
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
/** The Discord door's KV buckets: conversation epochs and posted replies (agents/frontdoors/discord/state.ts). */
export const DISCORD_STATE_BUCKETS = ["LYRA_DISCORD", "LYRA_DISCORD_SENT"] as const;
/** Its durable outbox consumer when the config names none (schemas/config.ts `discord.durable`). */
const DISCORD_DURABLE = "discord";
/** The conductor's durable inbox consumer (mesh/conductor). */
const CORE_DURABLE = "lyra-core";
/** Built-in tool servers that store media (artist, speech) and that read it (perception). */
const MEDIA_WRITERS: ReadonlySet<string> = new Set(["artist", "speech"]);
const MEDIA_READERS: ReadonlySet<string> = new Set(["perception"]);

export function inboxPrefixOf(user: string): string {
  return subjects.userInbox(user);
}

/** A durable consumer: only its owner may pull, change or delete it. */
interface Durable {
  owner: string;
  stream: StreamName;
  name: string;
}

/** What every user's permissions derive from: the config, and the grants that depend on other users. */
interface Mesh {
  cfg: MeshConfig;
  tenant: string;
  roles: string[];
  /** Read and write of the media bucket. */
  media: string[];
  claims: string;
  discordDurable: string;
  durables: Durable[];
  /** The agent users whose roles call tools. */
  toolHosts: string[];
  /** Who calls tools over MCP: the hosts of roles with grants, and the operator's console. */
  mcpCallers: string[];
}

/** Every user the config's processes need, in a stable order. */
export function meshUsers(cfg: MeshConfig): MeshUser[] {
  const tenant = cfg.mesh.name;
  const discordDurable = cfg.discord?.durable ?? DISCORD_DURABLE;
  const toolHosts = Object.entries(cfg.hosts)
    .filter(([, h]) => h.roles.some((r) => cfg.roles[r]!.tools.length > 0))
    .map(([host]) => `agent-${host}`);
  const m: Mesh = {
    cfg,
    tenant,
    roles: Object.keys(cfg.roles),
    media: [...objectRead(MEDIA_BUCKET), ...objectWrite(MEDIA_BUCKET)],
    claims: claimsBucket(tenant),
    discordDurable,
    durables: [
      { owner: "core", stream: StreamName.Inbox, name: CORE_DURABLE },
      { owner: "discord", stream: StreamName.Outbox, name: discordDurable },
    ],
    toolHosts,
    mcpCallers: [...toolHosts, "cli"],
  };
  const agents = agentUsers(m);
  const leaves = Object.entries(cfg.hosts).flatMap(([host, h]) =>
    h.leaf
      ? [
          leafUser(
            host,
            agents.find((u) => u.name === `agent-${host}`)!,
          ),
        ]
      : [],
  );
  return [...agents, coreUser(m), toolsUser(m), ...frontDoorUsers(m), cliUser(m), ...leaves];
}

function user(
  m: Mesh,
  name: string,
  kind: ProcessKind,
  publish: string[],
  subscribe: string[],
  o: { responses?: boolean; subscribeDeny?: string[] } = {},
): MeshUser {
  const inbox = inboxPrefixOf(name);
  // An MCP caller sends a tool request's cancel on `<its reply subject>.ctl`.
  const ctl = m.mcpCallers.includes(name) ? [subjects.mcpControl(`${inbox}.*.*`)] : [];
  const publishDeny = m.durables.filter((d) => d.owner !== name).flatMap((d) => protectDurable(publish, d.stream, d.name));
  return {
    name,
    kind,
    inboxPrefix: inbox,
    publish: uniq([JS_INFO, ...publish, ...ctl]),
    publishDeny,
    subscribe: uniq([...subscribe, `${inbox}.>`]),
    subscribeDeny: o.subscribeDeny ?? [],
    responses: o.responses ?? false,
  };
}

/**
 * The user a GPU box's leaf node authenticates as (hosts.<host>.leaf: true): the box's agent's
 * subjects, as nats-server applies permissions to a leaf connection. It checks the subscriptions
 * the leaf forwards by subject only, so a queue-group limit ("lyra.<role> agents") would refuse the
 * role's queue subscription: the subjects are allowed in any group. It tracks no responses
 * (allow_responses) for a leaf, so the replies the agent sends are allowed to any inbox (`_INBOX.>`);
 * a reply subject is unguessable, and the box sees only the requests sent to it. The agent on the
 * box keeps its own inbox prefix, which this user may subscribe under.
 */
function leafUser(host: string, agent: MeshUser): MeshUser {
  return {
    ...agent,
    name: `leaf-${host}`,
    kind: ProcessKind.Leaf,
    publish: uniq([...agent.publish, subjects.userInboxAll]),
    subscribe: agent.subscribe.map((s) => s.split(" ")[0]!),
    responses: false,
  };
}

/** One agent user per host: its roles' endpoints, beacons and tool requests. */
function agentUsers(m: Mesh): MeshUser[] {
  const { cfg, tenant } = m;
  const owner = cfg.mesh.owner;
  return Object.entries(cfg.hosts).map(([host, h]) => {
    const pub: string[] = [];
    const sub: string[] = [subjects.cancelAll, ...subjects.serviceDiscovery("agents")];
    for (const r of h.roles) {
      sub.push(`${subjects.role(r)} ${subjects.agentsQueue}`);
      sub.push(`${subjects.agentPrompt(owner, r)} ${subjects.agentsQueue}`);
      sub.push(`${subjects.agentStatus(owner, r)} ${subjects.agentsQueue}`);
      sub.push(subjects.roleInstanceAll(r)); // lyra.<role>.<instance>: one replica's own subject
      pub.push(subjects.heartbeat(owner, r), subjects.roleStateOf(r));
      pub.push(...cfg.roles[r]!.tools.flatMap((grant) => subjects.mcpGrant(tenant, r, grant)));
    }
    // A large tool result is parked in the claims bucket; the caller takes it (reads, deletes).
    if (m.toolHosts.includes(`agent-${host}`)) pub.push(...objectRead(m.claims), ...objectDelete(m.claims));
    // A user's media reaches the specialists only: a vision one reads it, the others store an inline item for a reference.
    if (h.roles.some((r) => cfg.roles[r]!.kind === RoleKind.Specialist)) pub.push(...m.media);
    // Roles with a response cache read and write the mesh's cache bucket (agents/host/respcache.ts).
    if (h.roles.some((r) => cfg.roles[r]!.cache)) pub.push(...kvBucket(responseCacheBucket(tenant)));
    return user(m, `agent-${host}`, ProcessKind.Agent, pub, sub, { responses: true });
  });
}

function coreUser(m: Mesh): MeshUser {
  const corePub: string[] = [subjects.logAll, subjects.outboxAll, subjects.deadAll, subjects.cancelAll];
  for (const r of m.roles) corePub.push(subjects.role(r), subjects.roleInstanceAll(r));
  for (const s of Object.values(StreamName)) corePub.push(...streamAdmin(s));
  // Its durable on the inbox; a conversation's history from the log; the oldest pending message of a conversation.
  corePub.push(
    ...durableConsumer(StreamName.Inbox, CORE_DURABLE),
    ...orderedReads(StreamName.Log, subjects.logAll),
    ...directGetAny(StreamName.Log),
    ...directGetAny(StreamName.Inbox),
  );
  // A re-run turn looks up its stored reply (last by subject) before publishing it again.
  corePub.push(...directGetAny(StreamName.Outbox));
  // Per-user daily totals for the budgets (mesh/conductor/budget.ts).
  if (m.cfg.usage.budgets) corePub.push(...kvBucket(m.cfg.usage.budgets.bucket));
  // The variants' weights `lyra rollout` stores: followed, never written.
  corePub.push(...kvWatch(ROLLOUT_BUCKET));
  return user(m, "core", ProcessKind.Core, corePub, [subjects.roleStateAll]);
}

function toolsUser(m: Mesh): MeshUser {
  const toolsPub = [...objectWrite(m.claims)];
  // A tool server's cancel arrives on `<caller's reply subject>.ctl`, under that caller's inbox.
  const toolsSub = m.mcpCallers.map((c) => subjects.mcpControl(`${inboxPrefixOf(c)}.*.*`));
  for (const [server, s] of Object.entries(m.cfg.tools.servers)) {
    toolsSub.push(`${subjects.mcpServer(m.tenant, server)} ${subjects.mcpQueue(server)}`, ...subjects.serviceDiscovery(`mcp-${server}`));
    toolsPub.push(subjects.mcpHeartbeat(m.tenant, server));
    if (!("builtin" in s)) continue;
    if (MEDIA_WRITERS.has(s.builtin)) toolsPub.push(...objectWrite(MEDIA_BUCKET));
    if (MEDIA_READERS.has(s.builtin)) toolsPub.push(...objectRead(MEDIA_BUCKET));
  }
  // The result cache (tools/result-cache.ts): every hosted server's cacheable tools/call results.
  if (m.cfg.tools.cache.enabled) toolsPub.push(...kvBucket(m.cfg.tools.cache.bucket));
  return user(m, "tools", ProcessKind.Tools, toolsPub, toolsSub, { responses: true });
}

function frontDoorUsers(m: Mesh): MeshUser[] {
  return Object.entries(FRONT_DOORS).map(([name, channel]) => {
    const doorPub = [subjects.inboxChannel(channel)];
    if (name === "discord") {
      // Its durable consumer of its channel's stored replies, its state, and the media of user messages and replies.
      doorPub.push(
        ...durableConsumer(StreamName.Outbox, m.discordDurable, subjects.outboxChannel(channel)),
        ...DISCORD_STATE_BUCKETS.flatMap(kvBucket),
        ...m.media,
      );
    } else {
      // `lyra serve` also offers each role as a model (direct role calls), checks that a conductor
      // consumes the inbox, and reads a re-sent message's stored reply: the conversation's last by
      // direct get, an older one through an ordered consumer; both only inside its channel.
      for (const r of m.roles) doorPub.push(subjects.role(r), subjects.roleInstanceAll(r));
      doorPub.push(subjects.cancelAll, consumerInfo(StreamName.Inbox, CORE_DURABLE));
      // The usage of its direct role calls, in the log stream (agents/frontdoors/openai/usage.ts).
      doorPub.push(subjects.usage(channel));
      doorPub.push(
        directGetLast(StreamName.Outbox, subjects.outboxChannel(channel)),
        ...orderedReads(StreamName.Outbox, subjects.outboxChannel(channel)),
      );
    }
    const doorSub = [subjects.outboxChannel(channel), subjects.outboxChannelDeep(channel)];
    // Its role client picks a replica by the capacity feed, like the conductor's.
    if (name === "serve") doorSub.push(subjects.roleStateAll);
    return user(m, name, ProcessKind.FrontDoor, doorPub, doorSub);
  });
}

/**
 * The operator's console: ask, tap, status, log, tools ls/call, mcp. It reads the mesh's traffic
 * and its stored log and replies, but cannot serve a role, write the log or outbox, take a
 * front door's consumer, or manage streams.
 */
function cliUser(m: Mesh): MeshUser {
  const cliPub = [subjects.inboxChannel(CLI_CHANNEL), subjects.mcpTenantAll(m.tenant), ...subjects.serviceAll];
  cliPub.push(
    ...orderedReads(StreamName.Log, subjects.logAll),
    ...orderedReads(StreamName.Outbox, subjects.outboxAll),
    ...objectRead(m.claims),
    ...objectDelete(m.claims),
    ...m.media,
    // `lyra rollout`: the variants' weights.
    ...kvBucket(ROLLOUT_BUCKET),
  );
  // Reading lyra.> must not let it join the queue groups that share out role and tool requests.
  const queues = [
    `${subjects.lyraAll} ${subjects.agentsQueue}`,
    `${subjects.agentsAll} ${subjects.agentsQueue}`,
    ...Object.keys(m.cfg.tools.servers).map((s) => `${subjects.mcpAll} ${subjects.mcpQueue(s)}`),
  ];
  return user(m, "cli", ProcessKind.Cli, cliPub, [subjects.lyraAll, subjects.agentsAll, subjects.mcpAll], { subscribeDeny: queues });
}

/** The mesh's response cache bucket (roles.<role>.cache), shared by every agent host of the mesh. */
export function responseCacheBucket(mesh: string): string {
  return `LYRA_RESPONSES_${mesh}`;
}

export function claimsBucket(tenant: string): string {
  return `MCP_CLAIMS_${tenant}`; // tools/claim.ts names it so; tools/ sits above mesh/
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}
