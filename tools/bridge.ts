/**
 * The McpHandler of a bridged server: the mesh speaks MCP 2026-07-28 (stateless, per request),
 * the server behind speaks whatever the SDK client negotiated with it (often 2025-era). The bridge
 * forwards tools only (server/discover, tools/list, tools/call, ping), shapes results to the
 * 2026 wire the mesh's SDK clients validate, and turns "the server is down" into -32010.
 */
import { ProtocolError, SdkError, SdkErrorCode } from "@modelcontextprotocol/client";
import { createToolList } from "./bridge-list.ts";
import { REQUEST_TIMEOUT } from "./client.ts";
import { ToolsError, ToolsErrorCode } from "./errors.ts";
import type { McpHandler, McpRequestContext } from "./server.ts";
import type { Upstream } from "./upstream.ts";
import { errorResponse, McpCode, MCP_PROTOCOL_VERSION, type JsonRpcRequest, type JsonRpcResponse } from "./wire.ts";

export interface BridgeOptions {
  /** How long a tools/list answer is reused, ms; 0 asks the server every time. */
  listTtlMs: number;
}

/** Longest a forwarded request may run, ms (callers cancel sooner through `.ctl`). */
const BRIDGE_CALL_TIMEOUT_MS = 600_000;
const SERVER_INFO_META = "io.modelcontextprotocol/serverInfo";
const BRIDGED_METHODS = ["server/discover", "tools/list", "tools/call", "ping"];

export interface BridgeHandler extends McpHandler {
  /** Tool names from the last list (empty before one). */
  toolNames: () => string[];
  /** How many tools/list reached the server (the cache's misses). */
  listFetches: () => number;
  /** Lists now (the cache permitting), for the service metadata. */
  refreshTools: () => Promise<string[]>;
}

export function bridgeHandler(up: Upstream, o: BridgeOptions): BridgeHandler {
  const list = createToolList(up, o.listTtlMs, BRIDGE_CALL_TIMEOUT_MS);
  let progressSeq = 0;
  const handle = async (req: JsonRpcRequest, ctx: McpRequestContext): Promise<JsonRpcResponse> => {
    try {
      switch (req.method) {
        case "server/discover":
          return await up.run(async (c) => {
            const instructions = c.getInstructions();
            // Tools are all the bridge carries, whatever else the server offers.
            return ok(up, req, {
              supportedVersions: [MCP_PROTOCOL_VERSION],
              capabilities: { tools: {} },
              ...(instructions ? { instructions } : {}),
              ttlMs: 0,
              cacheScope: "private",
            });
          });
        case "tools/list":
          return ok(up, req, { tools: await list.tools(), ttlMs: 0, cacheScope: "private" });
        case "ping":
          return await up.run(async (c) => (await c.ping({ timeout: BRIDGE_CALL_TIMEOUT_MS }), ok(up, req, {})));
        case "tools/call":
          return await forwardCall(up, req, ctx, () => `lyra-${++progressSeq}`);
        default:
          return errorResponse(
            req.id,
            McpCode.MethodNotFound,
            `'${req.method}' is not bridged: lyra tools forwards ${BRIDGED_METHODS.join(", ")} to MCP servers it hosts`,
          );
      }
    } catch (err) {
      return asError(req, err);
    }
  };

  return Object.assign(handle, {
    toolNames: list.names,
    listFetches: list.fetches,
    refreshTools: async () => (await list.tools()).map((t) => t.name),
  });
}

/** A complete 2026 result, with the server's name and version in its _meta. */
function ok(up: Upstream, req: JsonRpcRequest, result: Record<string, unknown>): JsonRpcResponse {
  const info = up.client()?.getServerVersion();
  const serverMeta = info ? { [SERVER_INFO_META]: { name: info.name, version: info.version } } : {};
  return {
    jsonrpc: "2.0",
    id: req.id,
    result: { ...result, resultType: "complete", _meta: { ...serverMeta, ...(result._meta as object | undefined) } },
  };
}

/** Forwards one tools/call; `nextToken` numbers our own progress tokens toward the server. */
async function forwardCall(up: Upstream, req: JsonRpcRequest, ctx: McpRequestContext, nextToken: () => string): Promise<JsonRpcResponse> {
  const p = req.params ?? {};
  const name = p.name;
  if (typeof name !== "string") return errorResponse(req.id, McpCode.InvalidParams, "tools/call needs params.name, the tool's name");
  const callerToken = (p._meta as Record<string, unknown> | undefined)?.progressToken;
  const args = p.arguments && typeof p.arguments === "object" ? (p.arguments as Record<string, unknown>) : undefined;
  // Our own token toward the server, so progress is forwarded in order (see Upstream.onProgress).
  const token = nextToken();
  const off =
    callerToken === undefined
      ? () => undefined
      : up.onProgress(token, (pr) =>
          ctx.notify({ jsonrpc: "2.0", method: "notifications/progress", params: { ...pr, progressToken: callerToken } }),
        );
  const result = await up
    // A plain request, not callTool(): the bridge forwards results, and checking structuredContent
    // against the tool's outputSchema is the calling client's business (it has the schema too).
    .run((c) =>
      c.request(
        {
          method: "tools/call",
          params: { name, arguments: args, ...(callerToken === undefined ? {} : { _meta: { progressToken: token } }) },
        },
        { signal: ctx.signal, timeout: BRIDGE_CALL_TIMEOUT_MS },
      ),
    )
    .finally(off);
  return ok(up, req, result);
}

/** A failure as the JSON-RPC error the caller reads: the server's own error passes through. */
function asError(req: JsonRpcRequest, err: unknown): JsonRpcResponse {
  if (err instanceof ToolsError && err.code === ToolsErrorCode.UpstreamDown) return errorResponse(req.id, McpCode.StreamLost, err.message);
  if (err instanceof ProtocolError) return errorResponse(req.id, err.code, err.message, err.data);
  if (err instanceof SdkError) {
    if (err.code === SdkErrorCode.RequestTimeout)
      return errorResponse(req.id, REQUEST_TIMEOUT, `the MCP server did not answer ${req.method}: ${err.message}`);
    if (err.code === SdkErrorCode.ConnectionClosed || err.code === SdkErrorCode.NotConnected || err.code === SdkErrorCode.SendFailed) {
      return errorResponse(
        req.id,
        McpCode.StreamLost,
        `the connection to the MCP server broke during ${req.method} (${err.message}); re-issue the request`,
      );
    }
  }
  // fetch failures of a Streamable HTTP server are network trouble: worth a retry.
  if (err instanceof TypeError && /fetch/i.test(err.message))
    return errorResponse(req.id, McpCode.StreamLost, `the MCP server is unreachable (${err.message}); re-issue the request`);
  return errorResponse(req.id, McpCode.Internal, `the MCP server failed ${req.method}: ${(err as Error).message ?? String(err)}`);
}
