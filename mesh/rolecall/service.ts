/** The NATS micro registration of a role, so `nats micro ls` and Agent Protocol discovery find it. */
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm, type Service } from "@nats-io/services";
import { subjects } from "../subjects.ts";
import type { RequestMsg } from "./inbound.ts";
import type { ReplyTarget } from "./sink.ts";

/** A request as the prompt endpoint delivers it (a micro ServiceMsg, seen structurally). */
export type RequestIn = ReplyTarget & RequestMsg;

/** The Agent Protocol's service name "Synadia Agents" (the micro name rule forbids the space). */
export const AGENT_SERVICE_NAME = "SynadiaAgents";
export const PROTOCOL_VERSION = "0.1";
export const PROMPT_ENDPOINT = "prompt";

export interface RoleServiceOptions {
  role: string;
  host: string;
  owner: string;
  version: string;
  description: string;
  metadata: Record<string, string>;
  maxPayload: number;
  stats: () => Record<string, unknown>;
  handler: (err: Error | null, msg: RequestIn) => void;
}

export async function addRoleService(nc: NatsConnection, o: RoleServiceOptions): Promise<Service> {
  // @nats-io/services carries its own nats-core copy: same protocol and shapes, but its enums
  // make the types nominally different, hence the casts here and on the messages.
  const service = await new Svcm(nc as unknown as Svcm["nc"]).add({
    name: AGENT_SERVICE_NAME,
    version: o.version,
    description: o.description,
    metadata: {
      agent: "lyra",
      owner: o.owner,
      session: o.role,
      protocol_version: PROTOCOL_VERSION,
      role: o.role,
      host: o.host,
      ...o.metadata,
    },
    statsHandler: async () => o.stats(),
  });
  service.addEndpoint(PROMPT_ENDPOINT, {
    subject: subjects.role(o.role),
    queue: subjects.roleQueue(o.role),
    metadata: { max_payload: `${o.maxPayload}B`, attachments_ok: "false" },
    handler: (err, msg) => o.handler(err, msg as unknown as RequestIn),
  });
  return service;
}
