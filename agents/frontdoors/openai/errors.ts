/** Errors of `lyra serve`, in OpenAI's error shape: `{ error: { message, type, param, code } }`. */
import type { PayloadTooLargeError } from "../../../schemas/index.ts";

/** The `type` values OpenAI's API uses, and the statuses Lyra sends with them. */
export const ErrorType = {
  InvalidRequest: "invalid_request_error",
  RateLimit: "rate_limit_exceeded",
  Server: "server_error",
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

export class OpenAIError extends Error {
  /** 499 (nginx's "client closed request") is never sent: the client is gone; it names the outcome. */
  readonly status: 400 | 401 | 404 | 405 | 413 | 415 | 429 | 499 | 500 | 503;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;
  /** Seconds, for the Retry-After header of a 429 or 503. */
  readonly retryAfterS: number | undefined;
  constructor(
    status: OpenAIError["status"],
    type: ErrorType,
    message: string,
    o: { param?: string; code?: string; retryAfterS?: number; cause?: unknown } = {},
  ) {
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

export const badRequest = (message: string, param?: string, code = "invalid_value") =>
  new OpenAIError(400, ErrorType.InvalidRequest, message, { param, code });
export const unavailable = (message: string, code: string, cause?: unknown) =>
  new OpenAIError(503, ErrorType.Server, message, { code, retryAfterS: 1, cause });

/** A request the mesh cannot carry (a role request or inbox message over the NATS server's max_payload): the client's to shrink. */
export const payloadTooLarge = (err: PayloadTooLargeError) =>
  new OpenAIError(
    413,
    ErrorType.InvalidRequest,
    `the request is too large for the mesh: ${err.message}. ` +
      `Send a shorter request (the NATS server's max_payload is ${err.limit} bytes; serve.max_body is not the only limit)`,
    { code: "request_too_large", cause: err },
  );

/** The client closed the connection (or was cut off by a header or body timeout) before the answer: nobody to answer. */
export const clientClosed = (before: "the request was read" | "the answer was complete", cause?: unknown) =>
  new OpenAIError(
    499,
    ErrorType.InvalidRequest,
    before === "the request was read"
      ? "the client closed the connection (or serve.body_timeout cut it off) before the request was read"
      : `the client closed the connection before ${before}`,
    { code: "client_closed", cause },
  );
