/** The NATS micro registration of a role, so `nats micro ls` and Agent Protocol discovery find it. */
import { Svcm, type Service, type ServiceHandler } from "@nats-io/services";
import { subjects } from "../subjects.ts";

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
  handler: ServiceHandler;
}

export async function addRoleService(nc: Svcm["nc"], o: RoleServiceOptions): Promise<Service> {
  const service = await new Svcm(nc).add({
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
    handler: o.handler,
  });
  return service;
}
