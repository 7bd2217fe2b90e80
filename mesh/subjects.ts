/**
 * The one module that builds subject strings. Every token is validated, so a conversation id or
 * channel name can never inject a wildcard or an extra token.
 */
import { MeshError } from "./errors.ts";

/** The `agent` token of Lyra's Agent Protocol subjects (and its `metadata.agent`). */
export const AGENT = "lyra";
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const ROLE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const RESERVED_ROLES: ReadonlySet<string> = new Set(["inbox", "outbox", "log", "cancel"]);

/** Throws a configuration error when `value` is not a safe single subject token. */
export function token(what: string, value: string): string {
  if (!TOKEN.test(value)) {
    throw new MeshError(
      "invalid_token",
      `${what} '${value}' is not a valid subject token: use 1-128 letters, digits, '_' or '-'`,
    );
  }
  return value;
}

export function roleToken(role: string): string {
  if (!ROLE.test(role) || RESERVED_ROLES.has(role)) {
    throw new MeshError(
      "invalid_role",
      `role '${role}' is not a valid role name: use lowercase letters, digits and '-', and not ${[...RESERVED_ROLES].join("/")}`,
    );
  }
  return role;
}

export const subjects = {
  /** `lyra.<role>`: role requests. */
  role: (role: string) => `lyra.${roleToken(role)}`,
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
  inbox: (channel: string, conversation: string) =>
    `lyra.inbox.${token("channel", channel)}.${token("conversation", conversation)}`,
  inboxAll: "lyra.inbox.>",
  /** `lyra.outbox.<channel>.<conversation>`: replies and live partial output. */
  outbox: (channel: string, conversation: string) =>
    `lyra.outbox.${token("channel", channel)}.${token("conversation", conversation)}`,
  /** Live partial output (core NATS, not stored): one more token under the outbox subject. */
  outboxPartial: (channel: string, conversation: string) =>
    `lyra.outbox.${token("channel", channel)}.${token("conversation", conversation)}.partial`,
  /** What the outbox stream stores: final replies only. */
  outboxStored: "lyra.outbox.*.*",
  outboxAll: "lyra.outbox.>",
  /** `lyra.log.<conversation>`: conversation events. */
  log: (conversation: string) => `lyra.log.${token("conversation", conversation)}`,
  logAll: "lyra.log.>",
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
  /** Lyra's heartbeats only. */
  heartbeatLyra: `agents.hb.${AGENT}.*.*`,
} as const;

/** The role of a `lyra.<role>` or `agents.<verb>.lyra.<owner>.<role>` subject, or undefined. */
export function roleOfSubject(subject: string): string | undefined {
  const parts = subject.split(".");
  if (parts.length === 2 && parts[0] === "lyra" && ROLE.test(parts[1]!)) return parts[1];
  if (parts.length === 5 && parts[0] === "agents" && parts[2] === AGENT && ROLE.test(parts[4]!)) return parts[4];
  return undefined;
}
