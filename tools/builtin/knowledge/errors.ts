/**
 * Why a knowledge call failed. These never leave the server as exceptions: each becomes a tool
 * result with `isError: true` whose text is the message, so the model can read it and adapt.
 */
export const KnowledgeErrorCode = {
  /** The service did not answer within timeout_ms. */
  Timeout: "timeout",
  /** 429, or the service's own "slow down" (MediaWiki maxlag, arXiv "Rate exceeded."). */
  RateLimited: "rate_limited",
  /** 503 or another 5xx: the service is down or overloaded. */
  Unavailable: "unavailable",
  /** The service refused the request (4xx, or its own error document). */
  Rejected: "rejected",
  /** The body was not the JSON/Atom/text the documented API promises. */
  Malformed: "malformed",
  NoResults: "no_results",
  /** Configuration missing on the host (e.g. WOLFRAM_APP_ID). */
  Config: "config",
  /** The connection failed (DNS, refused, reset). */
  Network: "network",
} as const;
export type KnowledgeErrorCode = (typeof KnowledgeErrorCode)[keyof typeof KnowledgeErrorCode];

export class KnowledgeError extends Error {
  readonly code: KnowledgeErrorCode;
  /** From Retry-After, when the service said how long to wait. */
  readonly retryAfterS?: number;
  constructor(code: KnowledgeErrorCode, message: string, options?: { cause?: unknown; retryAfterS?: number }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retryAfterS = options?.retryAfterS;
  }
}
