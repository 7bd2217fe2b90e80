// Public surface of tools/: MCP over NATS (wire v1 of nats-mcp-gateway), the SDK transports,
// the tool host and the built-in tool servers. Knows MCP and NATS, nothing of models.
// A process that only calls tools (an agent) imports tools/caller.ts instead: the same caller's
// side without the MCP SDK and the tool host (about 15 MB less resident memory).
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
  ToolsError,
  ToolsErrorCode,
  McpWireError,
  createMcpClient,
  DEFAULT_MCP_INACTIVITY_MS,
  REQUEST_TIMEOUT,
  meshRequest,
  listTools,
  MAX_TOOL_LIST_PAGES,
  DEFAULT_LIST_PAGE_TIMEOUT_MS,
} from "./caller.ts";
export type {
  JsonRpcId,
  JsonRpcRequest,
  JsonRpcNotification,
  JsonRpcError,
  JsonRpcResponse,
  McpClient,
  McpClientOptions,
  McpRequestOptions,
  ListedTool,
  ListToolsOptions,
} from "./caller.ts";
export { serveMcp, type McpHandler, type McpRequestContext, type ServeMcpOptions, type ToolServer } from "./server.ts";
export { sdkHandler, NatsClientTransport, connectSdkClient } from "./sdk.ts";
export { checkInbound, UNSUPPORTED_PROTOCOL_VERSION } from "./integrity.ts";
export { claimBucket, DEFAULT_CLAIM_MAX_AGE_MS } from "./claim.ts";
export { BUILTIN_TOOL_SERVERS, clockServer, type BuiltinToolServer } from "./builtin/index.ts";
export { startToolHost, ToolServerKind, type ToolHost, type ToolHostOptions, type HostedServerStatus } from "./host.ts";
export { ServerState } from "./upstream.ts";
export { createToolMetrics, CallOutcome, type ToolMetrics } from "./metrics.ts";
export { discoverToolServers, type DiscoveredToolServer, type DiscoverToolServersOptions } from "./discovery.ts";
