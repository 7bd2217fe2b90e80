/**
 * What `lyra mcp`, `lyra tools ls` and `lyra tools call` share: connecting as an MCP caller of the
 * mesh (tenant = the config's mesh name), finding the tool servers, and listing their tools.
 *
 * Discovery is local here until tools/ has its own: `$SRV.INFO` of every micro service, keeping
 * those whose metadata says `wire: mcp.v1` and `mesh: <tenant>` (the metadata `serveMcp` sets).
 */
import { Svcm, type ServiceInfo } from "@nats-io/services";
import type { Mesh } from "../../mesh/connect.ts";
import { createLogger } from "../../mesh/logger.ts";
import { MCP_UNSET } from "../../mesh/subjects.ts";
import type { MeshConfig } from "../../schemas/config.ts";
import { createMcpClient, MCP_PROTOCOL_VERSION, MetaKey, WIRE_VERSION, type JsonRpcRequest, type McpClient } from "../../tools/index.ts";
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
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(user)) throw new UsageError(`--user '${user}' is not a subject token; use letters, digits, '_' or '-' (a role name, or '_')`);
  const loaded = await loadConfig(values);
  const cfg = typeof values.nats === "string" ? { ...loaded, nats: { ...loaded.nats, servers: values.nats.split(",") } } : loaded;
  const log = createLogger({ level: process.env.LYRA_LOG_LEVEL ?? "warn" });
  const mesh = await connectWithConfig(cfg, name, log);
  const client = createMcpClient(mesh, { tenant: cfg.mesh.name, user });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      client.close();
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
  for (const info of await serviceInfos(tm.mesh, timeoutMs)) {
    const md = info.metadata ?? {};
    if (md.wire !== `mcp.v${WIRE_VERSION}` || md.mesh !== tm.tenant || !md.server) continue;
    const f = byName.get(md.server) ?? { server: md.server, hosts: [], configured: false };
    if (md.host && !f.hosts.includes(md.host)) f.hosts.push(md.host);
    byName.set(md.server, f);
  }
  return [...byName.values()].sort((a, b) => a.server.localeCompare(b.server));
}

async function serviceInfos(mesh: Mesh, maxWait: number): Promise<ServiceInfo[]> {
  // @nats-io/services carries its own nats-core copy; the connection is the same at runtime.
  const client = new Svcm(mesh.nc as unknown as Svcm["nc"]).client({ strategy: "stall", maxWait });
  const out: ServiceInfo[] = [];
  try {
    for await (const info of await client.info()) out.push(info);
  } catch (err) {
    // No service at all answers as NATS no-responders: an empty mesh, not a failure.
    if (!(err instanceof Error && (err.name === "NoRespondersError" || /no responders/i.test(err.message)))) throw err;
  }
  return out;
}

let nextId = 1;

/** A 2026-07-28 request as the wire wants it: protocol version and client capabilities in `_meta`. */
export function meshRequest(method: string, params: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): JsonRpcRequest {
  return {
    jsonrpc: "2.0",
    id: nextId++,
    method,
    params: { ...params, _meta: { ...meta, [MetaKey.ProtocolVersion]: MCP_PROTOCOL_VERSION, [MetaKey.ClientCapabilities]: {} } },
  };
}

/** A tool as `tools/list` describes it. */
export interface ListedTool {
  name: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Every tool of one server (all pages); throws a ToolListError with the JSON-RPC error. */
export async function listServerTools(client: McpClient, server: string, timeoutMs = 10_000): Promise<ListedTool[]> {
  const tools: ListedTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await client.request(server, meshRequest("tools/list", cursor ? { cursor } : {}), { timeoutMs });
    if ("error" in res) throw new ToolListError(server, res.error.code, res.error.message);
    const r = res.result as { tools?: ListedTool[]; nextCursor?: string };
    tools.push(...(r.tools ?? []));
    if (!r.nextCursor) break;
    cursor = r.nextCursor;
  }
  return tools;
}

export class ToolListError extends Error {
  readonly code = "tools_list_failed";
  readonly rpcCode: number;
  constructor(server: string, rpcCode: number, message: string) {
    super(`tool server '${server}' did not list its tools (${rpcCode}): ${message}`);
    this.name = new.target.name;
    this.rpcCode = rpcCode;
  }
}
