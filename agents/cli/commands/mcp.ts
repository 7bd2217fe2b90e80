/**
 * `lyra mcp`: a stdio MCP server that offers every tool of the mesh, as `<server>__<tool>`, to any
 * MCP client (Claude Desktop, the MCP inspector, another agent). `serveStdio` picks the protocol era
 * from the client's opening (2025 `initialize`, or 2026 per-request envelopes); each `tools/call`
 * goes to its tool server over NATS, with progress and cancellation passed through.
 * stdout is the protocol: logs go to stderr only.
 */
import { ProtocolError, Server, type CallToolResult, type Tool } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { createLogger, type Logger } from "../../../mesh/index.ts";
import { McpCode, meshRequest, splitToolName, ToolsError } from "../../../tools/index.ts";
import { defineCommand, intOption } from "../command.ts";
import { createMeshCatalog, type MeshCatalog } from "../mesh-catalog.ts";
import { openToolMesh, toolMeshHelp, toolMeshOptions, type ToolMesh } from "../tool-mesh.ts";

const SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo";

export const mcp = defineCommand({
  name: "mcp",
  summary: "A stdio MCP server offering every tool of the mesh (as server__tool) to any MCP client.",
  usage: "[--config FILE] [--user NAME] [--nats URL]",
  options: { ...toolMeshOptions, "discovery-ms": { type: "string", default: "1000" } },
  help: { ...toolMeshHelp, "discovery-ms": "how long to wait for tool servers to answer $SRV discovery, ms" },
  details:
    "Speaks MCP on stdin/stdout (2025-11-25 clients such as Claude Desktop and the MCP inspector, and\n" +
    "2026-07-28 clients); logs go to stderr. Point a client at it with\n" +
    '  { "mcpServers": { "lyra": { "command": "npx", "args": ["lyra", "mcp"] } } }',
  async run(values) {
    const discoveryMs = intOption("discovery-ms", values["discovery-ms"], 1000);
    const log = createLogger({ level: process.env.LYRA_LOG_LEVEL ?? "warn" }).child({ component: "lyra-mcp" });
    const tm = await openToolMesh(values, "lyra-mcp");
    const catalog = createMeshCatalog(tm, { ttlMs: tm.cfg.tools.list_ttl_s * 1000, discoveryMs, log });
    const ended = new Promise<string>((resolve) => {
      process.stdin.once("end", () => resolve("stdin closed"));
      process.stdin.once("close", () => resolve("stdin closed"));
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    const handle = serveStdio(() => meshServer(tm, catalog, log), { onerror: (err) => log.warn({ err: err.message }, "MCP stdio error") });
    log.info({ tenant: tm.tenant, user: tm.client.user }, "serving the mesh's tools on stdio");
    const why = await ended;
    log.info({ why }, "stopping");
    await handle.close().catch(() => undefined);
    await tm.close();
    return 0;
  },
});

/** One MCP server instance (serveStdio pins one per connection). */
function meshServer(tm: ToolMesh, catalog: MeshCatalog, log: Logger): Server {
  const server = new Server(
    { name: "lyra-mesh", version: "0.1.0" },
    { capabilities: { tools: {} }, instructions: `Tools of the Lyra mesh '${tm.tenant}', named <server>__<tool>.` },
  );
  server.setRequestHandler("tools/list", async () => ({ tools: (await catalog.tools()).map((t) => t.def as unknown as Tool) }));
  server.setRequestHandler("tools/call", async (request, ctx) => {
    const name = request.params.name;
    const q = splitToolName(name);
    if (!q)
      throw new ProtocolError(
        McpCode.InvalidParams,
        `unknown tool '${name}': mesh tools are named <server>__<tool>; tools/list shows them`,
      );
    const token = request.params._meta?.progressToken;
    const req = meshRequest(
      "tools/call",
      { name: q.tool, arguments: request.params.arguments ?? {} },
      token === undefined ? {} : { progressToken: token },
    );
    // Notifications are written asynchronously: the response must not overtake them.
    const forwarded: Promise<void>[] = [];
    let res;
    try {
      res = await tm.client.request(q.server, req, {
        signal: ctx.mcpReq.signal,
        onNotification: (n) => {
          // Progress goes back only to a client that asked for it (its own token rides through).
          if (token !== undefined && n.method === "notifications/progress") {
            forwarded.push(
              ctx.mcpReq
                .notify(n as Parameters<typeof ctx.mcpReq.notify>[0])
                .catch((err: unknown) => log.debug({ err }, "progress not forwarded")),
            );
          }
        },
      });
    } catch (err) {
      if (err instanceof ToolsError && err.code === "cancelled") log.info({ tool: name }, "call cancelled by the client");
      throw err;
    }
    await Promise.all(forwarded);
    if ("error" in res) throw new ProtocolError(res.error.code, res.error.message, res.error.data);
    // The tool server spoke 2026-07-28; the SDK projects its result into this client's era.
    const outputSchema = (await catalog.find(name))?.def.outputSchema as Record<string, unknown> | undefined;
    return server.projectCallToolResult(asCallToolResult(res.result), outputSchema);
  });
  return server;
}

/** The tool server's result without what only describes the hop (the remote server's identity). */
function asCallToolResult(result: Record<string, unknown>): CallToolResult {
  const { _meta, resultType: _rt, ...rest } = result;
  const meta = { ...(_meta as Record<string, unknown> | undefined) };
  delete meta[SERVER_INFO_KEY];
  return (Object.keys(meta).length ? { ...rest, _meta: meta } : rest) as CallToolResult;
}
