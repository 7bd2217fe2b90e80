import type { ChatMessage, ModelOptions, ToolCall, ToolSpec, Usage } from "../../schemas/index.ts";

/** Time allowed for the first token of a chat (covers model load); default for every backend. */
export const DEFAULT_FIRST_TOKEN_TIMEOUT_MS = 20_000;
/** Time allowed for a health probe. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 5_000;
/** Time allowed for a warm-up (a cold load of a large model can take minutes). */
export const DEFAULT_WARM_TIMEOUT_MS = 180_000;

/**
 * Context length sent with every Ollama call when the role sets none: a call with another
 * num_ctx than the loaded one makes Ollama reload the model, so it must not vary per call.
 */
export const DEFAULT_NUM_CTX = 4096;
/** keep_alive sent with every Ollama call when the role sets none (Ollama's own default is 5 min). */
export const DEFAULT_KEEP_ALIVE = "30m";

/** How a role's tools reach its model (roles.<r>.tool_mode); auto asks the model's capabilities. */
export const ToolMode = { Auto: "auto", Native: "native", Constrained: "constrained" } as const;
export type ToolMode = (typeof ToolMode)[keyof typeof ToolMode];

/** One model call, in Lyra's terms; each backend maps it to its own API. */
export interface ModelRequest {
  /** Model name (Ollama) or LiteLLM alias (OpenAI-compatible). */
  model: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  /** JSON schema the answer must follow (schema-constrained output). */
  format?: Record<string, unknown>;
  options?: ModelOptions;
  /** Ollama keep_alive for this call; default the backend's own. */
  keepAlive?: string | number;
  /** Ollama: native `tools`, or tools through a constrained `format` (ollama-constrained.ts); default auto. */
  toolMode?: ToolMode;
}

export interface ModelTimings {
  total_ms: number;
  first_token_ms?: number;
  load_ms?: number;
  /** Time spent reading the prompt (Ollama prompt_eval_duration), ms. */
  prompt_eval_ms?: number;
}

/** What a backend streams: text deltas, tool calls, then exactly one final chunk. */
export type ModelChunk =
  | { type: "delta"; text: string }
  | { type: "tool_call"; call: ToolCall }
  | {
      type: "final";
      model: string;
      backend: string;
      usage: Usage;
      timings: ModelTimings;
      done_reason?: string;
      /** Characters of reasoning the model produced (message.thinking, <think> tags); never in the deltas. */
      thinking_chars?: number;
      /** Set by withFallback when the fallback answered. */
      fallback?: { reason: string; from: string };
    };
export type FinalModelChunk = Extract<ModelChunk, { type: "final" }>;

export interface ChatOptions {
  signal?: AbortSignal;
  /** Abort and throw FirstTokenTimeoutError if nothing arrives in time; default 20000. */
  firstTokenTimeoutMs?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Per-call timeout; the default depends on the call (health 5000, warm 180000). */
  timeoutMs?: number;
}

export interface WarmOptions extends CallOptions {
  /** How long the model stays loaded afterwards; default the backend's keepAlive. */
  keepAlive?: string | number;
  /** Context length to load with: the role's num_ctx, so its first chat does not reload; default DEFAULT_NUM_CTX. */
  numCtx?: number;
}

export interface BackendHealth {
  ok: boolean;
  /** Models the backend has (pulled models, known aliases). */
  models: string[];
  /** Models loaded in memory now. */
  loaded: string[];
  error?: string;
  /** Set by withFallback: the primary's circuit breaker ("closed", "open", "half_open"). */
  breaker?: string;
  /** Set by withFallback: calls are going (or may go) to the fallback. */
  degraded?: boolean;
}

/** A model server behind a small interface, so tests and the demo can swap it. */
export interface ModelBackend {
  /** "ollama", "openai", "scripted", or a wrapper's name. */
  readonly name: string;
  /** Streams the answer. Throws typed errors from agents/errors.ts. */
  chat(req: ModelRequest, opts?: ChatOptions): AsyncIterable<ModelChunk>;
  /** Never throws: a failed probe is `{ ok: false, error }`. */
  health(opts?: CallOptions): Promise<BackendHealth>;
  /** Loads a model and keeps it loaded (keep_alive). */
  warm(model: string, opts?: WarmOptions): Promise<void>;
  /**
   * Whether a request whose last message is the assistant's gets that message continued (a resumed
   * answer) rather than a new one; absent: it does not (the message is taken as history).
   */
  canContinue?(req: ModelRequest): Promise<boolean>;
  close?(): void;
}

/**
 * A token count for when a backend reports none (an Ollama answer cut at the end of its JSON, a
 * proxy that sends no usage chunk): about 4 characters a token. Usage built from it says `estimated`.
 */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** The characters of a request's prompt: its messages' text (images and tools not counted). */
export function promptChars(req: ModelRequest): number {
  return req.messages.reduce((n, m) => n + m.content.length, 0);
}
