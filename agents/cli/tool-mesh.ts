/**
 * What `lyra mcp`, `lyra tools ls` and `lyra tools call` share: connecting as an MCP caller of the
 * mesh (tenant = the config's mesh name), finding the tool servers (the config's, and those
 * tools/'s `discoverToolServers` finds through $SRV) and listing their tools (tools/'s `listTools`).
 */
import { type Mesh, createLogger, MCP_UNSET } from "../../mesh/index.ts";
import type { MeshConfig } from "../../schemas/index.ts";
import { createMcpClient, discoverToolServers, listTools, McpWireError, type ListedTool, type McpClient } from "../../tools/index.ts";
import { AgentError, AgentErrorCode, Fault } from "../errors.ts";
import { configHelp, configOption, connectWithConfig, loadConfig } from "./config.ts";
import { UsageError } from "./command.ts";
import { natsHelp, natsOption } from "./shared.ts";

export const toolMeshOptions = {
  ...configOption,
  ...natsOption,
  user: { type: "string" as const, short: "u" as const, default: MCP_UNSET },
} as const;
export const toolMeshHelp = {
  ...configHelp,
  nats: `${natsHelp.nats}; overrides the config's nats.servers`,
  user: "the identity token of the subjects this caller publishes on (a role name, or '_')",
};

export interface ToolMesh extends AsyncDisposable {
  mesh: Mesh;
  cfg: MeshConfig;
  /** The mesh name: the tenant token of every MCP subject. */
  tenant: string;
  client: McpClient;
  close(): Promise<void>;
}

/** Loads the config and connects as an MCP caller; logs go to stderr (stdout may be a protocol). */
export async function openToolMesh(values: Record<string, unknown>, name: string): Promise<ToolMesh> {
  const user = typeof values.user === "string" ? values.user : MCP_UNSET;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(user))
    throw new UsageError(`--user '${user}' is not a subject token; use letters, digits, '_' or '-' (a role name, or '_')`);
  const loaded = await loadConfig(values);
  const cfg = typeof values.nats === "string" ? { ...loaded, nats: { ...loaded.nats, servers: values.nats.split(",") } } : loaded;
  const log = createLogger({ level: process.env.LYRA_LOG_LEVEL ?? "warn" });
  const mesh = await connectWithConfig(cfg, name, log);
  const client = createMcpClient(mesh, { tenant: cfg.mesh.name, user });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await client.close();
      await mesh.close();
    })());
  return { mesh, cfg, tenant: cfg.mesh.name, client, close, [Symbol.asyncDispose]: close };
}

export interface FoundToolServer {
  server: string;
  /** Hosts of the replicas that answered discovery (empty for a configured server that did not). */
  hosts: string[];
  configured: boolean;
}

/** The tool servers of the tenant: those in the config's `tools.servers` and those that answer `$SRV.INFO`. */
export async function findToolServers(tm: ToolMesh, timeoutMs = 1000): Promise<FoundToolServer[]> {
  const byName = new Map<string, FoundToolServer>();
  for (const server of Object.keys(tm.cfg.tools.servers)) byName.set(server, { server, hosts: [], configured: true });
  for (const d of await discoverToolServers(tm.mesh, { timeoutMs, tenant: tm.tenant })) {
    const f = byName.get(d.server) ?? { server: d.server, hosts: [], configured: false };
    if (d.host && !f.hosts.includes(d.host)) f.hosts.push(d.host);
    byName.set(d.server, f);
  }
  return [...byName.values()].sort((a, b) => a.server.localeCompare(b.server));
}

/** Every tool of one server (all pages); throws a ToolListError with the JSON-RPC error. */
export async function listServerTools(client: McpClient, server: string, timeoutMs?: number): Promise<ListedTool[]> {
  try {
    return await listTools(client, server, { timeoutMs });
  } catch (err) {
    if (err instanceof McpWireError) throw new ToolListError(server, err.rpcCode, err.message, { cause: err });
    throw err;
  }
}

/** A tool server answered tools/list with an error (not running, unknown to the mesh, ...). */
export class ToolListError extends AgentError {
  readonly rpcCode: number;
  constructor(server: string, rpcCode: number, message: string, options?: { cause?: unknown }) {
    super(AgentErrorCode.ToolsListFailed, Fault.System, `tool server '${server}' did not list its tools (${rpcCode}): ${message}`, options);
    this.rpcCode = rpcCode;
  }
}
