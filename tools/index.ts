// Public surface of tools/: MCP over NATS (wire v1 of nats-mcp-gateway), the SDK transports,
// the tool host and the built-in tool servers. Knows MCP and NATS, nothing of models.
export * from "./wire.ts";
export { ToolsError, McpWireError } from "./errors.ts";
export { serveMcp, DEFAULT_MCP_KEEP_ALIVE_MS, type McpHandler, type McpRequestContext, type ServeMcpOptions, type ToolServer } from "./server.ts";
export { createMcpClient, DEFAULT_MCP_INACTIVITY_MS, REQUEST_TIMEOUT, type McpClient, type McpClientOptions, type McpRequestOptions } from "./client.ts";
export { sdkHandler, NatsClientTransport, connectSdkClient } from "./sdk.ts";
export { checkInbound, UNSUPPORTED_PROTOCOL_VERSION } from "./integrity.ts";
export { claimBucket, DEFAULT_CLAIM_MAX_AGE_MS } from "./claim.ts";
export { clockServer } from "./builtin/clock.ts";
export { BUILTIN_TOOL_SERVERS, type BuiltinToolServer } from "./builtin/index.ts";
export { startToolHost, ToolServerKind, type ToolHost, type ToolHostOptions, type HostedServerStatus } from "./host.ts";
export { ServerState } from "./upstream.ts";
export { createToolMetrics, CallOutcome, type ToolMetrics } from "./metrics.ts";
export { discoverToolServers, type DiscoveredToolServer, type DiscoverToolServersOptions } from "./discovery.ts";
