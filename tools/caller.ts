// The caller's side of tools/ (part of its public surface, re-exported by tools/index.ts): the wire
// constants and one-request client, without the MCP SDK, the tool host or the built-in servers,
// so an agent host that only calls tools stays lean.
export * from "./wire.ts";
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
