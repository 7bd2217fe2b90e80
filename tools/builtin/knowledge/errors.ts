/**
 * Why a knowledge call failed. These never leave the server as exceptions: each becomes a tool
 * result with `isError: true` whose text is the message, so the model can read it and adapt.
 */
import { ToolsError, ToolsErrorCode } from "../../errors.ts";

/** The codes a knowledge call fails with (members of tools' one catalogue). */
export const KnowledgeErrorCode = {
  /** The service did not answer within timeout_ms. */
  Timeout: ToolsErrorCode.Timeout,
  /** 429, or the service's own "slow down" (MediaWiki maxlag, arXiv "Rate exceeded."). */
  RateLimited: ToolsErrorCode.RateLimited,
  /** 503 or another 5xx: the service is down or overloaded. */
  Unavailable: ToolsErrorCode.Unavailable,
  /** The service refused the request (4xx, or its own error document). */
  Rejected: ToolsErrorCode.Rejected,
  /** The body was not the JSON/Atom/text the documented API promises. */
  Malformed: ToolsErrorCode.Malformed,
  NoResults: ToolsErrorCode.NoResults,
  /** Configuration missing on the host (e.g. WOLFRAM_APP_ID). */
  Config: ToolsErrorCode.Config,
  /** The connection failed (DNS, refused, reset). */
  Network: ToolsErrorCode.Network,
} as const;
export type KnowledgeErrorCode = (typeof KnowledgeErrorCode)[keyof typeof KnowledgeErrorCode];

export class KnowledgeError extends ToolsError {
  declare readonly code: KnowledgeErrorCode;
  /** From Retry-After, when the service said how long to wait. */
  readonly retryAfterS?: number;
  constructor(code: KnowledgeErrorCode, message: string, options?: { cause?: unknown; retryAfterS?: number }) {
    super(code, message, options);
    this.retryAfterS = options?.retryAfterS;
  }
}
