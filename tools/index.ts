// Public surface of tools/: MCP over NATS (wire v1 of nats-mcp-gateway), the SDK transports,
// the tool host and the built-in tool servers. Knows MCP and NATS, nothing of models.
// A process that only calls tools (an agent) imports tools/caller.ts instead: the same caller's
// side without the MCP SDK and the tool host (about 15 MB less resident memory).
// The caller's side, listed once in caller.ts (a surface of named exports itself), is all re-exported here.
export * from "./caller.ts";
export { serveMcp, type McpHandler, type McpRequestContext, type ServeMcpOptions, type ToolServer } from "./server.ts";
export { sdkHandler, NatsClientTransport, connectSdkClient } from "./sdk.ts";
export { checkInbound, UNSUPPORTED_PROTOCOL_VERSION } from "./integrity.ts";
export { claimBucket, DEFAULT_CLAIM_MAX_AGE_MS } from "./claim.ts";
export { BUILTIN_TOOL_SERVERS, clockServer, ARTIST_DEFAULTS, SPEECH_DEFAULTS, type BuiltinToolServer } from "./builtin/index.ts";
export { startToolHost, ToolServerKind, type ToolHost, type ToolHostOptions, type HostedServerStatus } from "./host.ts";
export { ServerState } from "./upstream.ts";
export { createToolMetrics, CallOutcome, type ToolMetrics } from "./metrics.ts";
