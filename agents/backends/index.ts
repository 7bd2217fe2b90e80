// Public surface of agents/backends/: the ModelBackend contract and its implementations.
export type {
  BackendHealth,
  CallOptions,
  ChatOptions,
  FinalModelChunk,
  ModelBackend,
  ModelChunk,
  ModelRequest,
  ModelTimings,
  WarmOptions,
} from "./types.ts";
export { DEFAULT_FIRST_TOKEN_TIMEOUT_MS, DEFAULT_HEALTH_TIMEOUT_MS, DEFAULT_WARM_TIMEOUT_MS } from "./types.ts";
export { createOllamaBackend, type OllamaBackendConfig } from "./ollama.ts";
export { createOpenAIBackend, type OpenAIBackendConfig } from "./openai.ts";
export { createScriptedBackend, type ScriptedBackend, type ScriptRuleInput } from "./scripted.ts";
export {
  BreakerState,
  createBreaker,
  withFallback,
  type BreakerOptions,
  type CircuitBreaker,
  type FallbackBackend,
  type FallbackEvent,
  type FallbackOptions,
} from "./fallback.ts";
