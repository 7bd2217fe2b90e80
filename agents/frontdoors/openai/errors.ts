/** Errors of `lyra serve`, in OpenAI's error shape: `{ error: { message, type, param, code } }`. */

/** The `type` values OpenAI's API uses, and the statuses Lyra sends with them. */
export const ErrorType = {
  InvalidRequest: "invalid_request_error",
  RateLimit: "rate_limit_exceeded",
  Server: "server_error",
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

export class OpenAIError extends Error {
  readonly status: 400 | 401 | 404 | 405 | 413 | 429 | 500 | 503;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;
  /** Seconds, for the Retry-After header of a 429 or 503. */
  readonly retryAfterS: number | undefined;
  constructor(status: OpenAIError["status"], type: ErrorType, message: string, o: { param?: string; code?: string; retryAfterS?: number; cause?: unknown } = {}) {
    super(message, { cause: o.cause });
    this.name = new.target.name;
    this.status = status;
    this.type = type;
    this.param = o.param ?? null;
    this.code = o.code ?? null;
    this.retryAfterS = o.retryAfterS;
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param?: string, code = "invalid_value") => new OpenAIError(400, ErrorType.InvalidRequest, message, { param, code });
export const unavailable = (message: string, code: string, cause?: unknown) => new OpenAIError(503, ErrorType.Server, message, { code, retryAfterS: 1, cause });
