/**
 * Errors of agents/. Local errors: they carry a string code and whose fault they are, and never go
 * on the wire as such (the agent host turns them into wire codes).
 */

/**
 * Whose fault an error is: the operator's configuration, the system, the model's behaviour, or
 * what a user sent (a command line, an attachment).
 */
export const Fault = { Configuration: "configuration", System: "system", Model: "model", User: "user" } as const;
export type Fault = (typeof Fault)[keyof typeof Fault];

/** Every local error code of agents/ (never on the wire: the host maps errors to wire codes). */
export const AgentErrorCode = {
  BackendError: "backend_error",
  BackendUnavailable: "backend_unavailable",
  BackendBusy: "backend_busy",
  BackendAuth: "backend_auth",
  ModelNotFound: "model_not_found",
  FirstTokenTimeout: "first_token_timeout",
  ModelCapability: "model_capability",
  ContextOverflow: "context_overflow",
  ConstrainedOutput: "constrained_output",
  BackendTimeout: "backend_timeout",
  Aborted: "aborted",
  BackendConfig: "backend_config",
  ScriptError: "script_error",
  /** A tool server answered tools/list with an error (the CLI). */
  ToolsListFailed: "tools_list_failed",
  /** A Discord attachment that cannot go into the envelope. */
  AttachmentRefused: "attachment_refused",
  /** A command-line mistake. */
  Usage: "usage",
  /** Ollama for the development mesh (`lyra up`): not installed, not started, not reachable, models missing. */
  OllamaNotInstalled: "not_installed",
  OllamaNotStarted: "not_started",
  OllamaNotReachable: "not_reachable",
  OllamaModelsMissing: "models_missing",
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  readonly fault: Fault;
  constructor(code: AgentErrorCode, fault: Fault, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.fault = fault;
  }
}

interface BackendErrorInit {
  /** Backend that failed: "ollama", "openai". */
  backend: string;
  /** Where it was reached (host URL), for messages. */
  where?: string;
  /** HTTP status, when there was one. */
  status?: number;
  cause?: unknown;
}

/** A model backend failed (5xx, broken stream). Base of every backend failure. */
export class BackendError extends AgentError {
  readonly backend: string;
  readonly status: number | undefined;
  constructor(message: string, init: BackendErrorInit, code: AgentErrorCode = AgentErrorCode.BackendError, fault: Fault = Fault.System) {
    super(code, fault, message, { cause: init.cause });
    this.backend = init.backend;
    this.status = init.status;
  }
}

/** The backend cannot be reached (connection refused, reset, DNS). */
export class BackendUnavailableError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, AgentErrorCode.BackendUnavailable);
  }
}

/** The backend is saturated (Ollama 503 queue full, OpenAI 429 rate limit). Retry later. */
export class BackendBusyError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, AgentErrorCode.BackendBusy);
  }
}

/** The backend refused the credentials (401/403). */
export class BackendAuthError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, AgentErrorCode.BackendAuth, Fault.Configuration);
  }
}

/** The model is not on the backend (not pulled, unknown alias). */
export class ModelNotFoundError extends BackendError {
  readonly model: string;
  constructor(model: string, message: string, init: BackendErrorInit) {
    super(message, init, AgentErrorCode.ModelNotFound, Fault.Configuration);
    this.model = model;
  }
}

/** No first token within the deadline (model loading or stuck); the HTTP request was aborted. */
export class FirstTokenTimeoutError extends BackendError {
  readonly timeoutMs: number;
  constructor(model: string, timeoutMs: number, init: BackendErrorInit) {
    super(
      `model '${model}' on ${init.where ?? init.backend} sent no first token within ${timeoutMs} ms; ` +
        "raise first_token_timeout_ms for this role, or pre-load the model with a longer keep_alive",
      init,
      AgentErrorCode.FirstTokenTimeout,
    );
    this.timeoutMs = timeoutMs;
  }
}

/** The model cannot do what the request needs (Ollama 400 "does not support tools"). */
export class ModelCapabilityError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, AgentErrorCode.ModelCapability, Fault.Configuration);
  }
}

/** The prompt is longer than the model's context (Ollama 400 with `truncate: false`). */
export class ContextOverflowError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, AgentErrorCode.ContextOverflow, Fault.Configuration);
  }
}

/** The model's constrained tool-call output was not a valid call or answer (cut by max_tokens, usually). */
export class ConstrainedOutputError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, AgentErrorCode.ConstrainedOutput, Fault.Model);
  }
}

/** A call that is not a chat (health, warm-up) ran past its timeout. */
export class BackendTimeoutError extends BackendError {
  constructor(what: string, timeoutMs: number, init: BackendErrorInit) {
    super(`${what} on ${init.where ?? init.backend} did not finish within ${timeoutMs} ms`, init, AgentErrorCode.BackendTimeout);
  }
}

/** The caller aborted the call through its AbortSignal. Not a failure of the backend. */
export class AbortedError extends AgentError {
  constructor(what: string, options?: { cause?: unknown }) {
    super(AgentErrorCode.Aborted, Fault.System, `${what} was aborted by the caller`, options);
  }
}

/** A backend is configured wrongly (missing API key variable, bad URL). */
export class BackendConfigError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(AgentErrorCode.BackendConfig, Fault.Configuration, message, options);
  }
}

/** The scripted backend met a step its script does not cover. Loud on purpose. */
export class ScriptError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(AgentErrorCode.ScriptError, Fault.Configuration, message, options);
  }
}
