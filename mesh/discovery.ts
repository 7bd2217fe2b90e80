/**
 * Finds the roles served on the mesh through NATS micro discovery ($SRV.INFO / $SRV.STATS of the
 * Agent Protocol's service name `agents`), the same view `nats micro ls agents` gives. `lyra
 * status` uses it.
 */
import { Svcm, type ServiceInfo, type ServiceStats } from "@nats-io/services";
import type { Mesh } from "./connect.ts";
import { isNoResponders } from "./errors.ts";
import { AGENT_SERVICE_NAME, LYRA_ENDPOINT, PROMPT_ENDPOINT } from "./rolecall/index.ts";
import { AGENT } from "./subjects.ts";

export interface DiscoveredRole {
  /** The micro service instance id. */
  instanceId: string;
  role: string;
  host: string;
  /** The prompt endpoint's subject (`agents.prompt.lyra.<owner>.<role>`). */
  subject: string;
  version: string;
  metadata: Record<string, string>;
  /**
   * Requests in and errors answered, on every endpoint and the replica's own subject (capacity-aware
   * dispatch): the responder's own counts from the stats data; micro's endpoint counts for a replica
   * that does not send them (an older Lyra).
   */
  stats: { num_requests: number; num_errors: number; data: unknown };
}

export interface DiscoverOptions {
  /** How long to collect answers, ms; default 1000 (collection also ends after a short silence). */
  timeoutMs?: number;
}

/** Every Lyra role instance that answers within the timeout, sorted by role then host. */
export async function discoverRoles(mesh: Mesh, opts: DiscoverOptions = {}): Promise<DiscoveredRole[]> {
  const { infos, statsById } = await queryServices(mesh, AGENT_SERVICE_NAME, opts.timeoutMs ?? 1000);
  const roles: DiscoveredRole[] = [];
  for (const info of infos) {
    const md = info.metadata ?? {};
    if (md.agent !== AGENT) continue; // other agents share the Agent Protocol's service name
    const endpoint = info.endpoints.find((e) => e.name === PROMPT_ENDPOINT) ?? info.endpoints[0];
    // A role's requests arrive on two endpoints (the spec's prompt subject and lyra.<role>).
    const served = statsById.get(info.id)?.endpoints?.filter((e) => e.name === PROMPT_ENDPOINT || e.name === LYRA_ENDPOINT) ?? [];
    const es = served.find((e) => e.name === PROMPT_ENDPOINT);
    const own = (es?.data ?? {}) as { requests?: unknown; errors?: unknown };
    roles.push({
      instanceId: info.id,
      role: md.role ?? md.session ?? "",
      host: md.host ?? "",
      subject: endpoint?.subject ?? "",
      version: info.version,
      metadata: md,
      stats: {
        num_requests: typeof own.requests === "number" ? own.requests : served.reduce((n, e) => n + e.num_requests, 0),
        num_errors: typeof own.errors === "number" ? own.errors : served.reduce((n, e) => n + e.num_errors, 0),
        data: es?.data,
      },
    });
  }
  return roles.sort((a, b) => a.role.localeCompare(b.role) || a.host.localeCompare(b.host));
}

/**
 * `$SRV.INFO` and `$SRV.STATS` of the services named `name` (every service when undefined), as
 * `nats micro info/stats` see them; answers are collected for at most `maxWaitMs`.
 */
export async function queryServices(
  mesh: Mesh,
  name: string | undefined,
  maxWaitMs: number,
): Promise<{ infos: ServiceInfo[]; statsById: Map<string, ServiceStats> }> {
  // @nats-io/services carries its own nats-core copy; the connection is the same at runtime.
  const client = new Svcm(mesh.nc as unknown as Svcm["nc"]).client({ strategy: "stall", maxWait: maxWaitMs });
  const [infos, stats] = await Promise.all([
    collect<ServiceInfo>(() => client.info(name)),
    collect<ServiceStats>(() => client.stats(name)),
  ]);
  return { infos, statsById: new Map(stats.map((s) => [s.id, s])) };
}

async function collect<T>(query: () => Promise<AsyncIterable<T>>): Promise<T[]> {
  const out: T[] = [];
  try {
    for await (const item of await query()) out.push(item);
  } catch (err) {
    // No service at all answers as NATS no-responders: that is an empty mesh, not a failure.
    if (!isNoResponders(err)) throw err;
  }
  return out;
}
