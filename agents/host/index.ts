// Public surface of agents/host/: the agent host (the roles of one GPU host) and the conductor's
// options from the mesh config. Light to import: the model clients load on first use
// (agents/backends/lazy.ts), the conductor's LiteLLM fallback included.
export { startAgentHost, hostConfigOf, type AgentHost, type AgentHostOptions, type RoleState } from "./host.ts";
export { conductorOptions, committeeFromConfig, fallbackCaller } from "./conductor-options.ts";
export { AUTO_RECALL_CALL_ID } from "./recall.ts";
