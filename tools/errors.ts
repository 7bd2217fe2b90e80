/**
 * Errors of tools/. `ToolsError` is local (configuration, lifecycle, a tool's own failure) and
 * never goes on the wire; `McpWireError` is a JSON-RPC error a tool request ended with,
 * wire-synthesized or the server's, so it stays apart from the local base.
 */

/** Every local error code of tools/; the built-in servers' error classes use subsets of it. */
export const ToolsErrorCode = {
  /** An option or setting is wrong or missing. Configuration. */
  Config: "config",
  /** A built-in server was asked for before it started (or it failed to start). */
  NotStarted: "not_started",
  /** The caller (or the server) cancelled the request. */
  Cancelled: "cancelled",
  /** The client or transport was closed while the request was in flight. */
  Closed: "closed",
  /** The tool server stopped while the request was in flight. */
  Stopped: "stopped",
  /** A hosted MCP server is down (starting, restarting, failed) or was lost during the call. */
  UpstreamDown: "upstream_down",
  /** A hosted MCP server could not be started. */
  UpstreamStart: "upstream_start",
  /** The caller's input cannot be used (bad URL, scheme, missing selector). Model behaviour. */
  BadInput: "bad_input",
  /** The SSRF guard refused an address. Model behaviour or config (allow_private). */
  Refused: "refused",
  /** A remote service answered with an error (HTTP status, rate limit). */
  Upstream: "upstream",
  /** A time cap ran out. */
  Timeout: "timeout",
  /** A size cap was reached. */
  TooLarge: "too_large",
  /** Something a server needs is missing or down (chromium, searxng_url, a 5xx service). */
  Unavailable: "unavailable",
  /** 429, or a service's own "slow down". */
  RateLimited: "rate_limited",
  /** A service refused the request (4xx, or its own error document). */
  Rejected: "rejected",
  /** A body was not what the documented API promises. */
  Malformed: "malformed",
  NoResults: "no_results",
  /** A connection failed (DNS, refused, reset). */
  Network: "network",
  /** A calculate expression cannot be evaluated; the message says what to fix. Model behaviour. */
  BadExpression: "bad_expression",
  /** The embedding model is not one (its capabilities say so). Configuration. */
  NotEmbeddingModel: "not_embedding_model",
} as const;
export type ToolsErrorCode = (typeof ToolsErrorCode)[keyof typeof ToolsErrorCode];

export class ToolsError extends Error {
  readonly code: ToolsErrorCode;
  constructor(code: ToolsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class McpWireError extends Error {
  /** The JSON-RPC error code (-32010 stream lost, -32011 no server, -32012 too large, ...). */
  readonly rpcCode: number;
  readonly data: unknown;
  constructor(rpcCode: number, message: string, data?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.rpcCode = rpcCode;
    this.data = data;
  }
}
