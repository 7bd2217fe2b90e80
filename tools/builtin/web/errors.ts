/**
 * Errors of the web tools. Each becomes an MCP tool error (`isError: true`) whose text is the
 * message: the model reads it, so it names the thing, the value and what to do instead.
 */
import { ToolsError, ToolsErrorCode } from "../../errors.ts";

/** The codes a web tool fails with (members of tools' one catalogue). */
export const WebErrorCode = {
  /** The caller's input cannot be used (bad URL, scheme, missing selector). Model behaviour. */
  BadInput: ToolsErrorCode.BadInput,
  /** The SSRF guard refused an address. Model behaviour or config (allow_private). */
  Refused: ToolsErrorCode.Refused,
  /** The remote service answered with an error (HTTP status, rate limit). */
  Upstream: ToolsErrorCode.Upstream,
  /** The time cap ran out. */
  Timeout: ToolsErrorCode.Timeout,
  /** The size cap was reached. */
  TooLarge: ToolsErrorCode.TooLarge,
  /** Something this server needs is missing (chromium, searxng_url). System or config. */
  Unavailable: ToolsErrorCode.Unavailable,
} as const;
export type WebErrorCode = (typeof WebErrorCode)[keyof typeof WebErrorCode];

export class WebError extends ToolsError {
  declare readonly code: WebErrorCode;
  constructor(code: WebErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A tool result the model can read; unexpected errors keep their message but say they were unexpected. */
export function toolError(err: unknown): { content: [{ type: "text"; text: string }]; isError: true } {
  const text = err instanceof WebError ? err.message : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
  return { content: [{ type: "text", text }], isError: true };
}
