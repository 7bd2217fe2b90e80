/**
 * Malformed MCP requests for the wire conformance test: each is a subject, headers and body that a
 * tool server must answer with one `err` frame carrying a JSON-RPC error (and survive).
 */
import { randomBytes } from "node:crypto";
import { MCP_PROTOCOL_VERSION, McpCode, McpHeader, MetaKey, UNSUPPORTED_PROTOCOL_VERSION } from "../../../tools/index.ts";

export interface RawRequest {
  subject: string;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

export interface MalformedCase extends RawRequest {
  what: string;
  /** The JSON-RPC error code the err frame must carry. */
  code: number;
}

const meta = { [MetaKey.ProtocolVersion]: MCP_PROTOCOL_VERSION, [MetaKey.ClientCapabilities]: {} };

/** A correct `tools/call` of `tool` on `server` (the base every case breaks in one way). */
export function goodCall(
  tenant: string,
  server: string,
  tool: string,
  args: Record<string, unknown> = {},
): RawRequest & { request: Record<string, unknown> } {
  const request = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: tool, arguments: args, _meta: meta } };
  return {
    subject: `mcp.v1.req.${tenant}._.${server}.tools.call.${tool}`,
    headers: {
      [McpHeader.Wire]: "1",
      [McpHeader.Method]: "tools/call",
      [McpHeader.Name]: tool,
      [McpHeader.ProtocolVersion]: MCP_PROTOCOL_VERSION,
    },
    body: JSON.stringify(request),
    request,
  };
}

export function malformedCases(tenant: string, server: string, tool: string): MalformedCase[] {
  const good = goodCall(tenant, server, tool);
  const base = `mcp.v1.req.${tenant}._.${server}`;
  const req = good.request;
  const params = req.params as Record<string, unknown>;
  const json = (what: string, code: number, body: unknown, over: Partial<RawRequest> = {}): MalformedCase => ({
    what,
    code,
    ...good,
    body: JSON.stringify(body),
    ...over,
  });
  const bytes = (what: string, code: number, body: Uint8Array | string, over: Partial<RawRequest> = {}): MalformedCase => ({
    what,
    code,
    ...good,
    body,
    ...over,
  });
  const hdr = (what: string, code: number, headers: Record<string, string>): MalformedCase => ({
    what,
    code,
    ...good,
    headers: { ...good.headers, ...headers },
  });
  const without = (k: string) => Object.fromEntries(Object.entries(req).filter(([key]) => key !== k));
  const { ParseError: PE, InvalidRequest: IR, InvalidParams: IP, HeaderMismatch: MM } = McpCode;

  // Random bytes that are certainly not a JSON object.
  const noise = randomBytes(256);
  noise[0] = 0xff;
  const nonUtf8 = Buffer.concat([
    Buffer.from(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"${tool}","x":"`),
    Buffer.from([0xc3, 0x28, 0xff]),
    Buffer.from(`"}}`),
  ]);
  return [
    bytes("random bytes", PE, noise),
    bytes("empty body", PE, ""),
    bytes("plain text", PE, "hello tool server"),
    bytes("truncated JSON", PE, String(good.body).slice(0, 40)),
    bytes("non-UTF-8 inside a JSON string", PE, nonUtf8),
    bytes("a JSON number", IR, "42"),
    bytes("a JSON string", IR, '"tools/call"'),
    bytes("JSON null", IR, "null"),
    bytes("JSON true", IR, "true"),
    bytes("an empty batch", IR, "[]"),
    json("a batch of two good requests", IR, [req, { ...req, id: 8 }]),
    bytes("deeply nested arrays", IR, "[".repeat(5000) + "]".repeat(5000)),
    json("jsonrpc missing", IR, without("jsonrpc")),
    json('jsonrpc "1.0"', IR, { ...req, jsonrpc: "1.0" }),
    json("jsonrpc as a number", IR, { ...req, jsonrpc: 2 }),
    json("id missing (a notification)", IR, without("id")),
    json("id null", IR, { ...req, id: null }),
    json("id an object", IR, { ...req, id: { a: 1 } }),
    json("id an array", IR, { ...req, id: [1] }),
    json("id a boolean", IR, { ...req, id: true }),
    bytes("id too large for a number (1e400)", IR, String(good.body).replace('"id":7', '"id":1e400')),
    json(
      "a notification on a notification subject",
      IR,
      { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } },
      {
        subject: `${base}.notifications.cancelled._`,
        headers: { ...good.headers, [McpHeader.Method]: "notifications/cancelled", [McpHeader.Name]: "" },
      },
    ),
    json("method missing", IR, without("method")),
    json("method empty", IR, { ...req, method: "" }),
    json("method a number", IR, { ...req, method: 5 }),
    json("params an array", IP, { ...req, params: [tool] }),
    json("params a string", IP, { ...req, params: tool }),
    json("params null", IP, { ...req, params: null }),
    json("params missing", IP, without("params")),
    json("params.name missing", IP, { ...req, params: { arguments: {}, _meta: meta } }),
    json("params.name a number", IP, { ...req, params: { ...params, name: 42 } }),
    json("params.name empty", IP, { ...req, params: { ...params, name: "" } }),
    json(
      "params.name only under __proto__",
      IP,
      JSON.parse(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"__proto__":{"name":"${tool}"}}}`),
    ),
    json("body method tools/list on a tools.call subject", MM, { ...req, method: "tools/list" }),
    bytes(
      "duplicate method keys, the last one wrong",
      MM,
      String(good.body).replace('"method":"tools/call"', '"method":"tools/call","method":"prompts/list"'),
    ),
    json("subject method tokens tools.frobnicate", MM, req, { subject: `${base}.tools.frobnicate.${tool}` }),
    json("subject name token of another tool", MM, req, { subject: `${base}.tools.call.other_tool` }),
    json(
      "tools/list with a name token",
      MM,
      { ...req, method: "tools/list", params: { _meta: meta } },
      {
        subject: `${base}.tools.list.${tool}`,
        headers: { ...good.headers, [McpHeader.Method]: "tools/list" },
      },
    ),
    json("subject with no name token", IR, req, { subject: `${base}.tools` }),
    hdr("Mcp-Wire 2 (a wire version the server does not speak)", IR, { [McpHeader.Wire]: "2" }),
    hdr("Mcp-Wire header missing", IR, { [McpHeader.Wire]: "" }),
    bytes(
      "an argument nested 5,000 deep",
      IP,
      String(good.body).replace('"arguments":{}', `"arguments":{"x":${"[".repeat(5000)}${"]".repeat(5000)}}`),
    ),
    hdr("Mcp-Method header missing", MM, { [McpHeader.Method]: "" }),
    hdr("Mcp-Method header of another method", MM, { [McpHeader.Method]: "tools/list" }),
    hdr("Mcp-Name header missing", MM, { [McpHeader.Name]: "" }),
    hdr("Mcp-Name header with broken base64", MM, { [McpHeader.Name]: "=?base64?!!!?=" }),
    hdr("MCP-Protocol-Version header disagreeing with _meta", MM, { [McpHeader.ProtocolVersion]: "2025-11-25" }),
    json("_meta protocol version missing", MM, { ...req, params: { name: tool, arguments: {} } }),
    json(
      "_meta protocol version 2025-06-18 (headers agree)",
      UNSUPPORTED_PROTOCOL_VERSION,
      { ...req, params: { ...params, _meta: { ...meta, [MetaKey.ProtocolVersion]: "2025-06-18" } } },
      {
        headers: { ...good.headers, [McpHeader.ProtocolVersion]: "2025-06-18" },
      },
    ),
    json(
      "_meta a string",
      UNSUPPORTED_PROTOCOL_VERSION,
      { ...req, params: { ...params, _meta: "2026-07-28" } },
      { headers: { ...good.headers, [McpHeader.ProtocolVersion]: "" } },
    ),
  ];
}
