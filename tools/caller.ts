// The caller's side of tools/ (part of its public surface, re-exported by tools/index.ts): the wire
// constants, the one-request client and tool-server discovery, without the MCP SDK, the tool host
// or the built-in servers, so an agent host or a front door that only calls tools stays lean.
// Importers outside tools/ may take this file in place of index.ts (test/unit/boundaries.test.ts
// knows it as tools/'s second surface).
export {
  errorResponse,
  parseObject,
  asJsonRpcResponse,
  parseResponse,
  requestName,
  encodeHeaderValue,
  decodeHeaderValue,
  qualifiedToolName,
  splitToolName,
  grantAllows,
  WIRE_VERSION,
  DEFAULT_MCP_KEEP_ALIVE_MS,
  MCP_PROTOCOL_VERSION,
  McpHeader,
  Frame,
  McpCode,
  NAMED_METHODS,
  MetaKey,
} from "./wire.ts";
export type { JsonRpcId, JsonRpcRequest, JsonRpcNotification, JsonRpcError, JsonRpcResponse } from "./wire.ts";
export { ToolsError, ToolsErrorCode, McpWireError } from "./errors.ts";
export {
  createMcpClient,
  DEFAULT_MCP_INACTIVITY_MS,
  REQUEST_TIMEOUT,
  type McpClient,
  type McpClientOptions,
  type McpRequestOptions,
} from "./client.ts";
export {
  meshRequest,
  listTools,
  MAX_TOOL_LIST_PAGES,
  DEFAULT_LIST_PAGE_TIMEOUT_MS,
  type ListedTool,
  type ListToolsOptions,
} from "./request.ts";
export { discoverToolServers, type DiscoveredToolServer, type DiscoverToolServersOptions } from "./discovery.ts";
// Not a tool call, but lean too (the ollama client only): the agent host's router classifier embeds with it.
export { createEmbedder, type Embedder, type Embedding, type EmbedderOptions } from "./embed.ts";
