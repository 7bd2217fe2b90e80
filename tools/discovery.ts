/**
 * Finds the tool servers on the mesh through NATS micro discovery: every service whose metadata
 * says `wire: mcp.v1` (ours are `mcp-<server>`, but any peer on the gateway's wire counts), with
 * its state and load from `$SRV.STATS`. `lyra status` prints it; `nats micro ls` shows the same.
 */
import { type Mesh, queryServices } from "../mesh/index.ts";
import { WIRE_VERSION } from "./wire.ts";

export interface DiscoveredToolServer {
  instanceId: string;
  server: string;
  /** The mesh (tenant) it serves. */
  mesh: string;
  host: string;
  /** builtin, stdio, http (unknown for other implementations). */
  kind: string;
  /** The service description: what the server is for (its configured description) and where it runs. */
  description: string;
  /** up, starting, restarting, failed (a server that reports no state is up). */
  state: string;
  error?: string;
  tools: string[];
  inFlight: number;
  requests: number;
  errors: number;
  version: string;
  metadata: Record<string, string>;
}

export interface DiscoverToolServersOptions {
  /** How long to collect answers, ms; default 1000. */
  timeoutMs?: number;
  /** Only this mesh's servers; default all. */
  tenant?: string;
}

export async function discoverToolServers(mesh: Mesh, opts: DiscoverToolServersOptions = {}): Promise<DiscoveredToolServer[]> {
  // Tool services have one name each, so ask every service and keep those on the MCP wire.
  const { infos, statsById } = await queryServices(mesh, undefined, opts.timeoutMs ?? 1000);
  const out: DiscoveredToolServer[] = [];
  for (const info of infos) {
    const md = info.metadata ?? {};
    if (md.wire !== `mcp.v${WIRE_VERSION}`) continue;
    if (opts.tenant !== undefined && md.mesh !== opts.tenant) continue;
    const es = statsById.get(info.id)?.endpoints?.[0];
    const d = (es?.data ?? {}) as { state?: string; error?: string; tools?: unknown; in_flight?: number; kind?: string };
    const tools = Array.isArray(d.tools)
      ? d.tools.filter((t): t is string => typeof t === "string")
      : (md.tools ?? "").split(",").filter(Boolean);
    out.push({
      instanceId: info.id,
      server: md.server ?? info.name.replace(/^mcp-/, ""),
      mesh: md.mesh ?? "",
      host: md.host ?? "",
      kind: d.kind ?? md.kind ?? "",
      description: info.description ?? "",
      state: d.state ?? "up",
      ...(d.error ? { error: d.error } : {}),
      tools,
      inFlight: d.in_flight ?? 0,
      requests: es?.num_requests ?? 0,
      errors: es?.num_errors ?? 0,
      version: info.version,
      metadata: md,
    });
  }
  return out.sort((a, b) => a.server.localeCompare(b.server) || a.host.localeCompare(b.host));
}
