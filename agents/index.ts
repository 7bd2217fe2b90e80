// Public surface of agents/, the top layer: the agent host, the front doors and the model backends.
// Nothing in the project imports it (the CLI, agents/cli/lyra.ts, is this folder's entry point);
// it names what a program embedding Lyra would start.
export { startAgentHost, hostConfigOf, type AgentHost, type AgentHostOptions } from "./host/index.ts";
export { startServe, keysFromConfig, serveFromConfig, type ServeOptions, type ServeServer } from "./frontdoors/openai/index.ts";
export { startDiscordAdapter, type DiscordAdapter, type DiscordAdapterOptions } from "./frontdoors/discord/index.ts";
export {
  createOllamaBackend,
  createOpenAIBackend,
  createScriptedBackend,
  withFallback,
  type ModelBackend,
  type ModelChunk,
  type ModelRequest,
} from "./backends/index.ts";
