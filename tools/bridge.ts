/**
 * The McpHandler of a bridged server: the mesh speaks MCP 2026-07-28 (stateless, per request),
 * the server behind speaks whatever the SDK client negotiated with it (often 2025-era). The bridge
 * forwards tools only (server/discover, tools/list, tools/call, ping), shapes results to the
 * 2026 wire the mesh's SDK clients validate, and turns "the server is down" into -32010.
 */
import { ProtocolError, SdkError, SdkErrorCode, type Tool } from "@modelcontextprotocol/client";
import { REQUEST_TIMEOUT } from "./client.ts";
import { ToolsError } from "./errors.ts";
import type { McpHandler } from "./server.ts";
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
  let cache: { gen: number; epoch: number; at: number; tools: Tool[] } | undefined;
  let fetches = 0;
  let progressSeq = 0;
  // Bumped by every list_changed: a listing that was under way then may be stale, so it is
  // answered to whoever asked before the change but neither cached nor shared after it.
  let epoch = 0;
  let inflight: { gen: number; epoch: number; list: Promise<Tool[]> } | undefined;

  const tools = async (): Promise<Tool[]> => {
    const gen = up.generation();
    const at = epoch;
    if (cache && cache.gen === gen && cache.epoch === at && Date.now() - cache.at < o.listTtlMs) return cache.tools;
    // Concurrent misses share one request to the server.
    if (inflight && inflight.gen === gen && inflight.epoch === at) return inflight.list;
    const mine = {
      gen,
      epoch: at,
      list: up
        .run(async (c) => {
          fetches++;
          const res = await c.listTools(undefined, { cacheMode: "refresh", timeout: BRIDGE_CALL_TIMEOUT_MS });
          return res.tools.map(toModernTool);
        })
        .then((list) => {
          if (epoch === at) cache = { gen, epoch: at, at: Date.now(), tools: list };
          return list;
        })
        .finally(() => {
          if (inflight === mine) inflight = undefined;
        }),
    };
    inflight = mine;
    return mine.list;
  };

  // A (re)started server is listed at once, so status and metrics show its tools; a server that
  // says its list changed is asked again on the next tools/list.
  up.onEvent((e) => {
    if (e === "tools_changed") {
      epoch++;
      cache = undefined;
    } else void tools().catch(() => undefined);
  });

  const serverMeta = () => {
    const info = up.client()?.getServerVersion();
    return info ? { [SERVER_INFO_META]: { name: info.name, version: info.version } } : {};
  };
  const ok = (req: JsonRpcRequest, result: Record<string, unknown>): JsonRpcResponse => ({
    jsonrpc: "2.0",
    id: req.id,
    result: { ...result, resultType: "complete", _meta: { ...serverMeta(), ...(result._meta as object | undefined) } },
  });

  const handle = async (req: JsonRpcRequest, ctx: Parameters<McpHandler>[1]): Promise<JsonRpcResponse> => {
    try {
      switch (req.method) {
        case "server/discover":
          return await up.run(async (c) => {
            const instructions = c.getInstructions();
            // Tools are all the bridge carries, whatever else the server offers.
            return ok(req, {
              supportedVersions: [MCP_PROTOCOL_VERSION],
              capabilities: { tools: {} },
              ...(instructions ? { instructions } : {}),
              ttlMs: 0,
              cacheScope: "private",
            });
          });
        case "tools/list":
          return ok(req, { tools: await tools(), ttlMs: 0, cacheScope: "private" });
        case "ping":
          return await up.run(async (c) => (await c.ping({ timeout: BRIDGE_CALL_TIMEOUT_MS }), ok(req, {})));
        case "tools/call":
          return await call(req, ctx);
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

  const call = async (req: JsonRpcRequest, ctx: Parameters<McpHandler>[1]): Promise<JsonRpcResponse> => {
    const p = req.params ?? {};
    const name = p.name;
    if (typeof name !== "string") return errorResponse(req.id, McpCode.InvalidParams, "tools/call needs params.name, the tool's name");
    const callerToken = (p._meta as Record<string, unknown> | undefined)?.progressToken;
    const args = p.arguments && typeof p.arguments === "object" ? (p.arguments as Record<string, unknown>) : undefined;
    // Our own token toward the server, so progress is forwarded in order (see Upstream.onProgress).
    const token = `lyra-${++progressSeq}`;
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
    return ok(req, result);
  };

  return Object.assign(handle, {
    toolNames: () => (cache?.tools ?? []).map((t) => t.name),
    listFetches: () => fetches,
    refreshTools: async () => (await tools()).map((t) => t.name),
  });
}

/** 2025-era tool fields the 2026-07-28 wire removed (task support); the mesh's clients reject them. */
function toModernTool(t: Tool): Tool {
  const { execution, ...rest } = t as Tool & { execution?: Record<string, unknown> };
  if (!execution) return t;
  const { taskSupport: _dropped, ...keep } = execution;
  return Object.keys(keep).length ? { ...rest, execution: keep } : rest;
}

/** A failure as the JSON-RPC error the caller reads: the server's own error passes through. */
function asError(req: JsonRpcRequest, err: unknown): JsonRpcResponse {
  if (err instanceof ToolsError && err.code === "upstream_down") return errorResponse(req.id, McpCode.StreamLost, err.message);
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
