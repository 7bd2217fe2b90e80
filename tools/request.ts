/**
 * Building and paging the requests every mesh caller sends (the agent host's tool plane, `lyra mcp`,
 * `lyra tools ls|call`, the tool host listing a built-in): one place that knows the 2026-07-28
 * request `_meta` and how a tool list is paged. No MCP SDK here: agents import it through caller.ts.
 */
import type { McpClient } from "./client.ts";
import { McpWireError } from "./errors.ts";
import { MCP_PROTOCOL_VERSION, MetaKey, type JsonRpcRequest } from "./wire.ts";

let nextId = 1;

/**
 * A 2026-07-28 request as the wire wants it: protocol version and client capabilities in `_meta`
 * (after `meta`, which adds e.g. a progress token or client info). Ids are unique per process.
 */
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

/** Pages a server may answer one listing with; more are left out (a server that pages forever). */
export const MAX_TOOL_LIST_PAGES = 50;
/** How long one page of tools/list may take, ms. */
export const DEFAULT_LIST_PAGE_TIMEOUT_MS = 10_000;

export interface ListToolsOptions {
  /** Per page, ms; default DEFAULT_LIST_PAGE_TIMEOUT_MS (10000). */
  timeoutMs?: number;
  /** Extra `_meta` of each page request (client info). */
  meta?: Record<string, unknown>;
}

/** Every tool of one server, all pages (at most MAX_TOOL_LIST_PAGES); rejects with McpWireError when the server answers an error. */
export async function listTools(client: McpClient, server: string, o: ListToolsOptions = {}): Promise<ListedTool[]> {
  const tools: ListedTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_LIST_PAGES; page++) {
    const res = await client.request(server, meshRequest("tools/list", cursor ? { cursor } : {}, o.meta), {
      timeoutMs: o.timeoutMs ?? DEFAULT_LIST_PAGE_TIMEOUT_MS,
    });
    if ("error" in res) throw new McpWireError(res.error.code, res.error.message, res.error.data);
    const r = res.result as { tools?: unknown; nextCursor?: unknown };
    for (const t of Array.isArray(r.tools) ? (r.tools as ListedTool[]) : []) if (typeof t?.name === "string") tools.push(t);
    cursor = typeof r.nextCursor === "string" && r.nextCursor ? r.nextCursor : undefined;
    if (!cursor) break;
  }
  return tools;
}
