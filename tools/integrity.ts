/**
 * Parses one inbound MCP request and proves that the subject NATS authorized, the mirrored
 * headers and the JSON-RPC body agree. Without it a caller allowed to publish only on
 * `….tools.call.get_time` could send a `delete_everything` body there. Schema-blind otherwise:
 * the server behind it judges the params.
 */
import { MCP_UNSET, mcpNameToken, type McpSubject } from "../mesh/index.ts";
import {
  McpCode,
  McpHeader,
  MCP_PROTOCOL_VERSION,
  MetaKey,
  NAMED_METHODS,
  WIRE_VERSION,
  decodeHeaderValue,
  requestName,
  type JsonRpcId,
  type JsonRpcRequest,
} from "./wire.ts";

/** Unsupported protocol revision (the MCP SDK's code). */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;

/**
 * How deep `params` may nest (objects and arrays). Handlers (the MCP SDK's schema checks among
 * them) walk arguments recursively; past a few thousand levels that overflows the stack, so a
 * request deeper than any tool's schema needs is refused before it reaches one.
 */
export const MAX_PARAMS_DEPTH = 64;

export type Checked =
  | { ok: true; request: JsonRpcRequest; name: string | undefined }
  | { ok: false; id: JsonRpcId | null; code: number; message: string; data?: unknown };

export interface HeaderView {
  get(name: string): string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function checkInbound(subject: McpSubject, headers: HeaderView | undefined, body: Uint8Array): Checked {
  // As the gateway does: a request on another wire version (or none) may mean other framing.
  const wire = headers?.get(McpHeader.Wire) ?? "";
  if (wire !== WIRE_VERSION) {
    return fail(null, McpCode.InvalidRequest, `unsupported wire version '${wire}': this server speaks Mcp-Wire: ${WIRE_VERSION}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(body));
  } catch {
    return fail(null, McpCode.ParseError, "the body is not JSON: an MCP request is a JSON-RPC 2.0 object");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return fail(null, McpCode.InvalidRequest, "the body must be one JSON-RPC request object (batches are not carried)");
  }
  const r = raw as Record<string, unknown>;
  const id = typeof r.id === "string" || (typeof r.id === "number" && Number.isFinite(r.id)) ? r.id : null;
  if (r.jsonrpc !== "2.0") return fail(id, McpCode.InvalidRequest, 'jsonrpc must be "2.0"');
  if (typeof r.method !== "string" || r.method === "") return fail(id, McpCode.InvalidRequest, "method must be a non-empty string");
  if (id === null) {
    return fail(null, McpCode.InvalidRequest, "wire requests must be JSON-RPC requests with an id (cancel with {reply}.ctl)");
  }
  if (r.params !== undefined && (typeof r.params !== "object" || r.params === null || Array.isArray(r.params))) {
    return fail(id, McpCode.InvalidParams, "params must be an object");
  }
  const params = r.params as Record<string, unknown> | undefined;
  if (depthOver(params, MAX_PARAMS_DEPTH)) {
    return fail(id, McpCode.InvalidParams, `params are nested deeper than ${MAX_PARAMS_DEPTH} levels; flatten the arguments`);
  }
  const method = r.method;

  const hMethod = headers?.get(McpHeader.Method) ?? "";
  if (hMethod !== method) return mismatch(id, `Mcp-Method header '${hMethod}' does not match body method '${method}'`);
  if (subject.method !== method) return mismatch(id, `subject method '${subject.method}' does not match body method '${method}'`);

  const field = NAMED_METHODS[method];
  const name = requestName(method, params);
  if (field) {
    if (name === undefined || name === "") return fail(id, McpCode.InvalidParams, `${method} needs params.${field}`);
    const hName = decodeHeaderValue(headers?.get(McpHeader.Name) ?? "");
    if (hName !== name) return mismatch(id, `Mcp-Name header '${hName}' does not match body ${field} '${name}'`);
  }
  // Resource URIs are never token-safe, so only tool and prompt names reach the subject.
  const wantToken = field === "name" ? mcpNameToken(name) : MCP_UNSET;
  if (subject.name !== wantToken) {
    return mismatch(
      id,
      `subject name token '${subject.name}' does not match '${wantToken}' required for ${method}${name ? ` '${name}'` : ""}`,
    );
  }

  const meta = params?._meta;
  const rawVersion = typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>)[MetaKey.ProtocolVersion] : undefined;
  const bodyVersion = typeof rawVersion === "string" ? rawVersion : "";
  const hVersion = decodeHeaderValue(headers?.get(McpHeader.ProtocolVersion) ?? "");
  if (hVersion !== bodyVersion) {
    return mismatch(id, `MCP-Protocol-Version header '${hVersion}' does not match body _meta '${bodyVersion}'`);
  }
  if (bodyVersion !== MCP_PROTOCOL_VERSION) {
    return fail(
      id,
      UNSUPPORTED_PROTOCOL_VERSION,
      `protocol version '${bodyVersion}' is not carried on this wire (send _meta '${MetaKey.ProtocolVersion}': '${MCP_PROTOCOL_VERSION}')`,
      {
        supported: [MCP_PROTOCOL_VERSION],
        requested: bodyVersion,
      },
    );
  }
  return { ok: true, request: { jsonrpc: "2.0", id, method, params }, name };
}

/** True when `value` nests objects or arrays more than `limit` deep (iterative: no stack to overflow). */
function depthOver(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function fail(id: JsonRpcId | null, code: number, message: string, data?: unknown): Checked {
  return { ok: false, id, code, message, data };
}

function mismatch(id: JsonRpcId | null, message: string): Checked {
  return fail(id, McpCode.HeaderMismatch, message);
}
