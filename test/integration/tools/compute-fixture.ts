/** A compute tool server hosted over a real nats-server, and calls to it as an agent makes them. */
import { accessSync, constants } from "node:fs";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { createMcpClient, type McpClient } from "../../../tools/client.ts";
import { startToolHost, type ToolHost } from "../../../tools/host.ts";
import { MetaKey } from "../../../tools/wire.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { mcpRequest } from "./helpers.ts";

/** Fails (never skips) with what to install when the sandbox's binaries are missing. */
export function requireSandboxTools(): void {
  for (const [path, pkg] of [
    ["/usr/bin/bwrap", "bubblewrap"],
    ["/usr/bin/python3", "python3"],
  ] as const) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      throw new Error(`${path} is missing: the compute tests need it. Install it: 'sudo apt-get install ${pkg}' (.ci/run does)`);
    }
  }
}

/** Small limits so that the bombs end quickly; 2 calls × (8 × 128 + 8) MiB fit the default memory_total_mb on any host. */
export const TEST_LIMITS = { cpu_s: 2, wall_s: 6, memory_mb: 128, processes: 8, tmp_mb: 8, max_output_bytes: 65_536 };

/** For servers with sessions: room for (max_concurrent 2 + max_sessions 3) sandboxes by their rlimits. */
export const SESSION_LIMITS = { ...TEST_LIMITS, sessions: true, max_sessions: 3, memory_total_mb: 5 * (8 * 128 + 8) };

export type Result = { text: string; isError: boolean };

export interface ComputeFixture {
  nats: NatsServer;
  mesh: Mesh;
  host: ToolHost;
  call(server: string, tool: string, args: unknown, meta?: Record<string, unknown>): Promise<Result>;
  close(): Promise<void>;
}

export const as = (user: string, conversation: string) => ({ [MetaKey.User]: user, [MetaKey.Conversation]: conversation });

export async function computeFixture(servers: Record<string, Record<string, unknown>>): Promise<ComputeFixture> {
  requireSandboxTools();
  const nats = await startNatsServer({ jetstream: false });
  const mesh = await connectMesh({ servers: nats.url });
  const host = await startToolHost(mesh, {
    tenant: "t",
    host: "h",
    servers: Object.fromEntries(Object.entries(servers).map(([name, options]) => [name, { builtin: "compute", options }])),
    log: silentLogger,
  });
  const mcp: McpClient = createMcpClient(mesh, { tenant: "t" });
  return {
    nats,
    mesh,
    host,
    async call(server, tool, args, meta = {}) {
      const r = await mcp.request(server, mcpRequest("tools/call", { name: tool, arguments: args, _meta: meta }), { timeoutMs: 60_000 });
      if ("error" in r) throw new Error(`JSON-RPC error ${r.error.code}: ${r.error.message}`);
      const res = r.result as { content: { text: string }[]; isError?: boolean };
      return { text: res.content.map((c) => c.text).join("\n"), isError: res.isError ?? false };
    },
    async close() {
      await mcp.close();
      await host.close();
      await mesh.close();
      await nats.close();
    },
  };
}
