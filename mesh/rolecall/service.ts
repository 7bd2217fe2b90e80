/**
 * The NATS micro registration of a role as a NATS Agent Protocol 0.3 agent (§3), so `nats micro
 * ls agents` and every Agent Protocol SDK find it: service `agents`, metadata agent/owner/
 * protocol_version, a `prompt` and a `status` endpoint in the `agents` queue group. Lyra's own
 * short subject `lyra.<role>` is a third endpoint with the same handler, for Lyra's callers and
 * `nats req`; spec clients ignore endpoint names they do not know.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm, type Service } from "@nats-io/services";
import { AGENT, subjects } from "../subjects.ts";
import type { RequestMsg } from "./inbound.ts";
import type { ReplyTarget } from "./reply.ts";

/** A request as the prompt endpoint delivers it (a micro ServiceMsg, seen structurally). */
export type RequestIn = ReplyTarget & RequestMsg;

/** The Agent Protocol's one service name (§3.1); discovery is `$SRV.INFO.agents`. */
export const AGENT_SERVICE_NAME = "agents";
/** The protocol version Lyra implements, MAJOR.MINOR (§11.1). */
export const PROTOCOL_VERSION = "0.3";
export const PROMPT_ENDPOINT = "prompt";
export const STATUS_ENDPOINT = "status";
/** Lyra's own endpoint on `lyra.<role>`: the same requests and replies as `prompt`. */
export const LYRA_ENDPOINT = "lyra";

/** What a role's service says of itself: the registration and the micro service share it. */
export interface RoleIdentity {
  role: string;
  host: string;
  owner: string;
  version: string;
  description: string;
  metadata: Record<string, string>;
  maxPayload: number;
}

export interface RoleServiceOptions extends RoleIdentity {
  /** Whether the role takes attachments (advertised as `attachments_ok`). */
  attachments: boolean;
  stats: () => Record<string, unknown>;
  /** The status reply (§8.7): a heartbeat-shaped body, built fresh. */
  status: () => object;
  handler: (err: Error | null, msg: RequestIn) => void;
}

/** The prompt endpoint's metadata (§2.1): values are strings, as micro metadata must be. */
export function promptMetadata(maxPayload: number, attachments: boolean): Record<string, string> {
  return { max_payload: formatSize(maxPayload), attachments_ok: String(attachments) };
}

/** A byte count in the §2.1 form: an integer and B, KB, MB or GB (1024-based, exact only). */
export function formatSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"] as const;
  let n = bytes;
  let u = 0;
  while (u < units.length - 1 && n >= 1024 && n % 1024 === 0) {
    n /= 1024;
    u++;
  }
  return `${n}${units[u]}`;
}

export async function addRoleService(nc: NatsConnection, o: RoleServiceOptions): Promise<Service> {
  // @nats-io/services carries its own nats-core copy: same protocol and shapes, but its enums
  // make the types nominally different, hence the casts here and on the messages.
  const service = await new Svcm(nc as unknown as Svcm["nc"]).add({
    name: AGENT_SERVICE_NAME,
    version: o.version,
    description: o.description,
    metadata: {
      ...o.metadata,
      agent: AGENT,
      owner: o.owner,
      session: o.role,
      protocol_version: PROTOCOL_VERSION,
      role: o.role,
      host: o.host,
    },
    statsHandler: async () => o.stats(),
  });
  const handler = (err: Error | null, msg: unknown) => o.handler(err, msg as RequestIn);
  const metadata = promptMetadata(o.maxPayload, o.attachments);
  service.addEndpoint(PROMPT_ENDPOINT, { subject: subjects.agentPrompt(o.owner, o.role), queue: subjects.agentsQueue, metadata, handler });
  service.addEndpoint(STATUS_ENDPOINT, {
    subject: subjects.agentStatus(o.owner, o.role),
    queue: subjects.agentsQueue,
    // The request body is reserved and ignored (§8.7).
    handler: (err, msg) => {
      if (err) return;
      try {
        msg.respond(JSON.stringify(o.status()));
      } catch (e) {
        // §8.7.1: a failure building the payload is a 500, not the framework's default handling.
        try {
          msg.respondError(500, `status unavailable: ${(e as Error).message}`.slice(0, 200));
        } catch {
          // the connection is closing: best-effort, as §8.7.1 allows
        }
      }
    },
  });
  service.addEndpoint(LYRA_ENDPOINT, { subject: subjects.role(o.role), queue: subjects.agentsQueue, metadata, handler });
  return service;
}
