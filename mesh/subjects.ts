/**
 * The one module that builds subject strings. Every token is validated, so a conversation id or
 * channel name can never inject a wildcard or an extra token.
 */
import { MeshCode, MeshError } from "./errors.ts";

/** The `agent` token of Lyra's Agent Protocol subjects (and its `metadata.agent`). */
export const AGENT = "lyra";
const MCP_PREFIX = "mcp.v1";
const INBOX_ROOT = "_INBOX";
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const ROLE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const RESERVED_ROLES: ReadonlySet<string> = new Set(["inbox", "outbox", "log", "cancel", "state"]);

/** Throws a configuration error when `value` is not a safe single subject token. */
export function token(what: string, value: string): string {
  if (!TOKEN.test(value)) {
    throw new MeshError(MeshCode.InvalidToken, `${what} '${value}' is not a valid subject token: use 1-128 letters, digits, '_' or '-'`);
  }
  return value;
}

export function roleToken(role: string): string {
  if (!ROLE.test(role) || RESERVED_ROLES.has(role)) {
    throw new MeshError(
      MeshCode.InvalidRole,
      `role '${role}' is not a valid role name: use lowercase letters, digits and '-', and not ${[...RESERVED_ROLES].join("/")}`,
    );
  }
  return role;
}

export const subjects = {
  /** `lyra.<role>`: role requests. */
  role: (role: string) => `lyra.${roleToken(role)}`,
  /** `lyra.<role>.<instance>`: role requests addressed to one replica (capacity-aware dispatch). */
  roleInstance: (role: string, instance: string) => `lyra.${roleToken(role)}.${token("instance", instance)}`,
  /** Every replica's own subject of one role, `lyra.<role>.*` (a permission pattern). */
  roleInstanceAll: (role: string) => `lyra.${roleToken(role)}.*`,
  /** `lyra.state.<role>.<instance>`: a replica's capacity state, published on change and at least every 500 ms. */
  roleState: (role: string, instance: string) => `lyra.state.${roleToken(role)}.${token("instance", instance)}`,
  /** Every replica's capacity state. */
  roleStateAll: "lyra.state.>",
  /** The capacity state of every replica of one role (a permission pattern). */
  roleStateOf: (role: string) => `lyra.state.${roleToken(role)}.*`,
  /** Everything Lyra's own subjects carry (the operator's tap). */
  lyraAll: "lyra.>",
  /**
   * Queue group of every Agent Protocol endpoint (§3.3 requires "agents"). Queue groups are per
   * subject, so the replicas of one role still share its requests and no other role's.
   */
  agentsQueue: "agents",
  /** `lyra.cancel.<requestId>`: a caller abandons a request; every replica listens. */
  cancel: (requestId: string) => `lyra.cancel.${token("request id", requestId)}`,
  cancelAll: "lyra.cancel.*",
  /**
   * `lyra.inbox.<channel>.<conversation>`: user messages in. The conversation is in the subject so
   * a conductor can tell whether a message is the oldest one pending for its conversation.
   */
  inbox: (channel: string, conversation: string) => `lyra.inbox.${token("channel", channel)}.${token("conversation", conversation)}`,
  inboxAll: "lyra.inbox.>",
  /** Every conversation's inbox subject of one channel: what its front door may publish. */
  inboxChannel: (channel: string) => `lyra.inbox.${token("channel", channel)}.*`,
  /** `lyra.outbox.<channel>.<conversation>`: replies and live partial output. */
  outbox: (channel: string, conversation: string) => `lyra.outbox.${token("channel", channel)}.${token("conversation", conversation)}`,
  /** Live partial output (core NATS, not stored): one more token under the outbox subject. */
  outboxPartial: (channel: string, conversation: string) =>
    `lyra.outbox.${token("channel", channel)}.${token("conversation", conversation)}.partial`,
  /** Every stored reply of one channel (a front door's durable consumer filters on it). */
  outboxChannel: (channel: string) => `lyra.outbox.${token("channel", channel)}.*`,
  /** Every subject under one channel's conversations (partials included): what its front door may read live. */
  outboxChannelDeep: (channel: string) => `lyra.outbox.${token("channel", channel)}.*.>`,
  /** Every live partial of one channel. */
  outboxPartialChannel: (channel: string) => `lyra.outbox.${token("channel", channel)}.*.partial`,
  /** What the outbox stream stores: final replies only. */
  outboxStored: "lyra.outbox.*.*",
  outboxAll: "lyra.outbox.>",
  /** `lyra.log.<conversation>`: conversation events. */
  log: (conversation: string) => `lyra.log.${token("conversation", conversation)}`,
  logAll: "lyra.log.>",
  /**
   * `lyra.log.usage.<channel>`: usage of role calls made outside a turn (a front door's direct
   * calls), in the log stream; four tokens, so no conversation's `lyra.log.<conversation>` is it.
   */
  usage: (channel: string) => `lyra.log.usage.${token("channel", channel)}`,
  /** `lyra.dead.<channel>`: inbox messages given up on, with the reason. */
  dead: (channel: string) => `lyra.dead.${token("channel", channel)}`,
  deadAll: "lyra.dead.>",
  /**
   * NATS Agent Protocol 0.3 subjects, `agents.<verb>.<agent>.<owner>.<name>` (§2): the agent token
   * is "lyra" and each role is an instance name, so `agents.prompt.*.*.voice` finds every voice.
   */
  agentPrompt: (owner: string, role: string) => `agents.prompt.${AGENT}.${token("owner", owner)}.${roleToken(role)}`,
  /** The status endpoint (§8.7): a heartbeat-shaped reply on request. */
  agentStatus: (owner: string, role: string) => `agents.status.${AGENT}.${token("owner", owner)}.${roleToken(role)}`,
  /** Liveness beacons (§8.1); the one subject the protocol fixes. */
  heartbeat: (owner: string, role: string) => `agents.hb.${AGENT}.${token("owner", owner)}.${roleToken(role)}`,
  /** Every agent's heartbeats, Lyra's and others' (§2.4). */
  heartbeatAll: "agents.hb.*.*.*",
  /** Every Agent Protocol subject. */
  agentsAll: "agents.>",
  /**
   * `mcp.v1.req.<tenant>.<user>.<server>.<method tokens>.<name>`: one MCP request (the
   * nats-mcp-gateway wire v1). `tools/call` is `tools.call`; the name token is the tool name when it
   * is token-safe, else `_`, and `_` for methods that name nothing.
   */
  mcpRequest: (tenant: string, user: string, server: string, method: string, name?: string) =>
    `${MCP_PREFIX}.req.${token("tenant", tenant)}.${token("user", user)}.${token("tool server", server)}.` +
    `${methodTokens(method)}.${mcpNameToken(name)}`,
  /** What one tool server's replicas subscribe to: every user of the tenant. */
  mcpServer: (tenant: string, server: string) => `${MCP_PREFIX}.req.${token("tenant", tenant)}.*.${token("tool server", server)}.>`,
  /** Queue group shared by the replicas of one tool server. */
  mcpQueue: (server: string) => `mcp.${token("tool server", server)}`,
  /** Cancellation of an in-flight MCP request: its reply subject plus `.ctl`. */
  mcpControl: (reply: string) => `${reply}.ctl`,
  /** Every MCP request of one tenant, from any user to any server (a permission pattern). */
  mcpTenantAll: (tenant: string) => `${MCP_PREFIX}.req.${token("tenant", tenant)}.*.*.>`,
  /**
   * The requests a tool grant (`server.tool` or `server.*`) lets `user` send: tools/list of the
   * server, tools/call of the tool (every tool for `*`). Permission patterns, not request subjects.
   */
  mcpGrant: (tenant: string, user: string, grant: string): [list: string, call: string] => {
    const [server, tool] = grant.split(".") as [string, string];
    const head = `${MCP_PREFIX}.req.${tenant}.${user}.${server}`;
    return [`${head}.tools.list._`, `${head}.tools.call.${tool}`];
  },
  /** Every MCP subject. */
  mcpAll: "mcp.v1.>",
  /** `mcp.v1.hb.<tenant>.<server>`: a tool server replica's liveness beacon. */
  mcpHeartbeat: (tenant: string, server: string) => `${MCP_PREFIX}.hb.${token("tenant", tenant)}.${token("tool server", server)}`,
  /** `_INBOX.<user>`: a user's private reply prefix under `lyra auth` (only that user may subscribe under it). */
  userInbox: (user: string) => `${INBOX_ROOT}.${token("user", user)}`,
  /** Every user's replies: what a GPU box's leaf node may answer to (nats-server tracks no responses over a leaf). */
  userInboxAll: `${INBOX_ROOT}.>`,
  /** The $SRV discovery subjects a micro service named `name` subscribes to (PING, INFO, STATS). */
  serviceDiscovery: (name: string) => ["$SRV.*", `$SRV.*.${name}`, `$SRV.*.${name}.*`],
  /** Every $SRV discovery subject (the operator's `micro ls/info/stats`). */
  serviceAll: ["$SRV.*", "$SRV.*.>"] as readonly string[],
} as const;

/** The request id of a `lyra.cancel.<requestId>` subject, or undefined when it is not one. */
export function parseCancelSubject(subject: string): string | undefined {
  const head = subjects.cancelAll.slice(0, -1);
  return subject.startsWith(head) ? subject.slice(head.length) : undefined;
}
/** The `{user}` token of an unattributed caller, and the name token of an unnamed or unsafe name. */
export const MCP_UNSET = "_";

/** A raw MCP name's subject token: itself when token-safe (and not `_`), else `_`. */
export function mcpNameToken(name: string | undefined): string {
  if (name === undefined || name === "" || name === MCP_UNSET) return MCP_UNSET;
  return TOKEN.test(name) ? name : MCP_UNSET;
}

function methodTokens(method: string): string {
  const segs = method.split("/");
  for (const seg of segs) {
    if (!TOKEN.test(seg)) throw new MeshError(MeshCode.InvalidToken, `MCP method '${method}' has a segment that is not a subject token`);
  }
  return segs.join(".");
}

/** The parts of an MCP request subject, or undefined when it is not one. Every token is re-checked. */
export interface McpSubject {
  tenant: string;
  user: string;
  server: string;
  /** The MCP form, with slashes (`tools/call`). */
  method: string;
  /** The name token (`_` when unset). */
  name: string;
}

export function parseMcpSubject(subject: string): McpSubject | undefined {
  const head = `${MCP_PREFIX}.req.`;
  if (!subject.startsWith(head)) return undefined;
  const toks = subject.slice(head.length).split(".");
  if (toks.length < 5 || !toks.every((t) => TOKEN.test(t))) return undefined;
  return {
    tenant: toks[0]!,
    user: toks[1]!,
    server: toks[2]!,
    method: toks.slice(3, -1).join("/"),
    name: toks[toks.length - 1]!,
  };
}

/**
 * The channel and conversation of an inbox subject (`lyra.inbox.<channel>.<conversation>`), or
 * undefined when it is not one. NATS authorised the publisher for the subject, so these, not what
 * the body says, are the message's channel and conversation.
 */
export function parseInboxSubject(subject: string): { channel: string; conversation: string } | undefined {
  const [lyra, inbox, channel, conversation, ...rest] = subject.split(".");
  if (lyra !== "lyra" || inbox !== "inbox" || rest.length || !TOKEN.test(channel ?? "") || !TOKEN.test(conversation ?? ""))
    return undefined;
  return { channel: channel!, conversation: conversation! };
}

/** The role of a `lyra.<role>`, `lyra.<role>.<instance>` or `agents.<verb>.lyra.<owner>.<role>` subject, or undefined. */
export function roleOfSubject(subject: string): string | undefined {
  const parts = subject.split(".");
  const lyraRole = parts[0] === "lyra" && ROLE.test(parts[1] ?? "") && !RESERVED_ROLES.has(parts[1]!);
  if ((parts.length === 2 || parts.length === 3) && lyraRole) return parts[1];
  if (parts.length === 5 && parts[0] === "agents" && parts[2] === AGENT && ROLE.test(parts[4]!)) return parts[4];
  return undefined;
}
