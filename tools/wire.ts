/**
 * MCP over NATS, wire v1 of nats-mcp-gateway: one JSON-RPC request in, zero or more notification
 * frames, exactly one terminal frame. Bodies are JSON-RPC as JSON (never msgpack), so any MCP
 * peer on the gateway's wire reads them.
 */

/** Value of the `Mcp-Wire` header; bumped on any incompatible change to subjects or framing. */
export const WIRE_VERSION = "1";

/** Keep-alive period of a working request, ms (the gateway's is 15 s; see ARCHITECTURE.md). */
export const DEFAULT_MCP_KEEP_ALIVE_MS = 5_000;

/** The MCP revision the bus carries (stateless: no initialize, no sessions). */
export const MCP_PROTOCOL_VERSION = "2026-07-28";

export const McpHeader = {
  Wire: "Mcp-Wire",
  Frame: "Mcp-Frame",
  /** Mirrors of the body, as on Streamable HTTP: the server proves they agree (-32020). */
  Method: "Mcp-Method",
  Name: "Mcp-Name",
  ProtocolVersion: "MCP-Protocol-Version",
  /** The caller can dereference a claim-check (`1`). */
  AcceptClaim: "Mcp-Accept-Claim",
  /** On an empty `end` frame: the object holding the real response. */
  Claim: "Mcp-Claim",
  /** Lyra: the SHA-256 of the claimed body, hex, checked after the fetch. */
  ClaimDigest: "Mcp-Claim-Sha256",
} as const;
export type McpHeader = (typeof McpHeader)[keyof typeof McpHeader];

/** The `Mcp-Frame` header of every reply message. */
export const Frame = {
  /** One JSON-RPC notification. */
  Msg: "msg",
  /** The JSON-RPC response; an empty body means cancelled (no response exists). */
  End: "end",
  /** A wire-synthesized JSON-RPC error response. */
  Err: "err",
  /** Keep-alive, empty. */
  KeepAlive: "ka",
} as const;
export type Frame = (typeof Frame)[keyof typeof Frame];

/** JSON-RPC error codes of the wire binding (and the JSON-RPC ones it uses). */
export const McpCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  /** The reply stream broke (server crash, drain, inactivity): re-issue. */
  StreamLost: -32010,
  /** NATS reported no responders for the subject. */
  NoServer: -32011,
  /** A message exceeded the server's max_payload. */
  PayloadTooLarge: -32012,
  /** Subject, headers and body disagree. */
  HeaderMismatch: -32020,
} as const;
export type McpCode = (typeof McpCode)[keyof typeof McpCode];

/** Methods whose `params.name` (or `uri`) the subject's name token and `Mcp-Name` carry. */
export const NAMED_METHODS: Readonly<Record<string, "name" | "uri">> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

/** `_meta` keys of a 2026-07-28 request. */
export const MetaKey = {
  ProtocolVersion: "io.modelcontextprotocol/protocolVersion",
  ClientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  ClientInfo: "io.modelcontextprotocol/clientInfo",
  /** The end user a call is made for (set by the agent's tool plane, never by the model): memory scopes by it. */
  User: "lyra/user",
  /** The conversation a call is made in (set by the agent's tool plane). */
  Conversation: "lyra/conversation",
  /** Request: `true` skips the tool host's result cache (a fresh result still replaces the entry). */
  NoCache: "lyra/noCache",
  /** Result: `true` when the tool host answered from its result cache. */
  Cached: "lyra/cached",
  /** Result: how old the cached result is, ms. */
  CacheAgeMs: "lyra/cacheAgeMs",
} as const;

export type JsonRpcId = string | number;
export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcNotification {
  jsonrpc: "2.0";
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}
export type JsonRpcResponse =
  { jsonrpc: "2.0"; id: JsonRpcId | null; result: Record<string, unknown> } | { jsonrpc: "2.0"; id: JsonRpcId | null; error: JsonRpcError };

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** A JSON object from text, or undefined for anything else (bad JSON, arrays, scalars). */
export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A JSON-RPC response from a decoded terminal body, with the request's id, or undefined when it is
 * not one: `result` must be an object, `error` must have a numeric code and a string message.
 */
export function asJsonRpcResponse(id: JsonRpcId, r: Record<string, unknown> | undefined): JsonRpcResponse | undefined {
  if (!r) return undefined;
  if (typeof r.result === "object" && r.result !== null && !Array.isArray(r.result)) {
    return { jsonrpc: "2.0", id, result: r.result as Record<string, unknown> };
  }
  const e = r.error as Record<string, unknown> | null | undefined;
  if (typeof e === "object" && e !== null && typeof e.code === "number" && typeof e.message === "string") {
    return errorResponse(id, e.code, e.message, e.data);
  }
  return undefined;
}

/** `asJsonRpcResponse` of a terminal body's text. */
export function parseResponse(id: JsonRpcId, text: string): JsonRpcResponse | undefined {
  return asJsonRpcResponse(id, parseObject(text));
}

/** The name a request carries for its method (tool or prompt name, resource URI), or undefined. */
export function requestName(method: string, params: Record<string, unknown> | undefined): string | undefined {
  const field = NAMED_METHODS[method];
  if (!field) return undefined;
  const v = params?.[field];
  return typeof v === "string" ? v : undefined;
}

const BASE64_SENTINEL = /^=\?base64\?(.*)\?=$/;

/**
 * Header values must be plain printable ASCII; anything else travels base64 between the
 * `=?base64?` … `?=` markers, as the MCP Streamable HTTP binding does.
 */
export function encodeHeaderValue(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) && !BASE64_SENTINEL.test(v) ? v : `=?base64?${Buffer.from(v, "utf8").toString("base64")}?=`;
}

export function decodeHeaderValue(v: string): string {
  const m = BASE64_SENTINEL.exec(v);
  return m ? Buffer.from(m[1]!, "base64").toString("utf8") : v;
}

/**
 * The name a model (or an MCP client of `lyra mcp`) sees for a mesh tool: `<server>__<tool>`.
 * Server names have no `_`, so the first `__` splits it back unambiguously.
 */
export function qualifiedToolName(server: string, tool: string): string {
  return `${server}__${tool}`;
}

export function splitToolName(qualified: string): { server: string; tool: string } | undefined {
  const at = qualified.indexOf("__");
  if (at <= 0 || at + 2 >= qualified.length) return undefined;
  return { server: qualified.slice(0, at), tool: qualified.slice(at + 2) };
}

/** Whether a grant (`server.tool`, `server.*`) allows a tool. */
export function grantAllows(grants: readonly string[], server: string, tool: string): boolean {
  return grants.some((g) => g === `${server}.*` || g === `${server}.${tool}`);
}
