/** Shared by the tool host tests: the real MCP servers they bridge and the requests they send them. */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { MCP_PROTOCOL_VERSION, MetaKey, type JsonRpcRequest } from "../../../tools/wire.ts";

const require = createRequire(import.meta.url);
/** `@modelcontextprotocol/server-everything`'s entry: a real 2025-era stdio MCP server. */
export const EVERYTHING_JS = join(dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")), "dist", "index.js");

/** The config of the bridged server-everything (run by this Node, so the version is known). */
export const everythingConfig = () => ({ command: process.execPath, args: [EVERYTHING_JS, "stdio"], env: {} });

let nextId = 1;
/** A 2026-07-28 request as the SDK client sends it. */
export function mcpRequest(method: string, params: Record<string, unknown> = {}): JsonRpcRequest {
  return {
    jsonrpc: "2.0",
    id: nextId++,
    method,
    params: {
      ...params,
      _meta: { [MetaKey.ProtocolVersion]: MCP_PROTOCOL_VERSION, [MetaKey.ClientCapabilities]: {}, ...(params._meta as object | undefined) },
    },
  };
}
