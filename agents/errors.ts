/**
 * Errors of agents/. Local errors: they carry a string code and whose fault they are, and never go
 * on the wire as such (the agent host turns them into wire codes).
 */

/** Whose fault an error is: the operator's configuration, the system, or the model's behaviour. */
export const Fault = { Configuration: "configuration", System: "system", Model: "model" } as const;
export type Fault = (typeof Fault)[keyof typeof Fault];

export class AgentError extends Error {
  readonly code: string;
  readonly fault: Fault;
  constructor(code: string, fault: Fault, message: string, options?: { cause?: unknown }) {
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
  constructor(message: string, init: BackendErrorInit, code = "backend_error", fault: Fault = Fault.System) {
    super(code, fault, message, { cause: init.cause });
    this.backend = init.backend;
    this.status = init.status;
  }
}

/** The backend cannot be reached (connection refused, reset, DNS). */
export class BackendUnavailableError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, "backend_unavailable");
  }
}

/** The backend is saturated (Ollama 503 queue full, OpenAI 429 rate limit). Retry later. */
export class BackendBusyError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, "backend_busy");
  }
}

/** The backend refused the credentials (401/403). */
export class BackendAuthError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, "backend_auth", Fault.Configuration);
  }
}

/** The model is not on the backend (not pulled, unknown alias). */
export class ModelNotFoundError extends BackendError {
  readonly model: string;
  constructor(model: string, message: string, init: BackendErrorInit) {
    super(message, init, "model_not_found", Fault.Configuration);
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
      "first_token_timeout",
    );
    this.timeoutMs = timeoutMs;
  }
}

/** The model cannot do what the request needs (Ollama 400 "does not support tools"). */
export class ModelCapabilityError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, "model_capability", Fault.Configuration);
  }
}

/** The prompt is longer than the model's context (Ollama 400 with `truncate: false`). */
export class ContextOverflowError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, "context_overflow", Fault.Configuration);
  }
}

/** The model's constrained tool-call output was not a valid call or answer (cut by max_tokens, usually). */
export class ConstrainedOutputError extends BackendError {
  constructor(message: string, init: BackendErrorInit) {
    super(message, init, "constrained_output", Fault.Model);
  }
}

/** A call that is not a chat (health, warm-up) ran past its timeout. */
export class BackendTimeoutError extends BackendError {
  constructor(what: string, timeoutMs: number, init: BackendErrorInit) {
    super(`${what} on ${init.where ?? init.backend} did not finish within ${timeoutMs} ms`, init, "backend_timeout");
  }
}

/** The caller aborted the call through its AbortSignal. Not a failure of the backend. */
export class AbortedError extends AgentError {
  constructor(what: string, options?: { cause?: unknown }) {
    super("aborted", Fault.System, `${what} was aborted by the caller`, options);
  }
}

/** A backend is configured wrongly (missing API key variable, bad URL). */
export class BackendConfigError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("backend_config", Fault.Configuration, message, options);
  }
}

/** The scripted backend met a step its script does not cover. Loud on purpose. */
export class ScriptError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("script_error", Fault.Configuration, message, options);
  }
}
