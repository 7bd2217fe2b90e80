/**
 * The pieces of one MCP request over NATS that need no state of their own: its subject, body and
 * headers before it is sent, and what each frame of the reply stream (or a claim) means.
 */
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import { type Mesh, subjects } from "../mesh/index.ts";
import { takeClaim } from "./claim.ts";
import type { McpRequestOptions } from "./client.ts";
import type { McpWireError } from "./errors.ts";
import {
  encodeHeaderValue,
  errorResponse,
  Frame,
  McpCode,
  McpHeader,
  MetaKey,
  parseObject,
  parseResponse,
  WIRE_VERSION,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "./wire.ts";

/** The request's subject and body, or the error response that stops it before it is sent. */
export function prepare(
  mesh: Mesh,
  tenant: string,
  user: string,
  server: string,
  req: JsonRpcRequest,
  name: string | undefined,
): { subject: string; body: Uint8Array } | { response: JsonRpcResponse } {
  let subject: string;
  try {
    subject = subjects.mcpRequest(tenant, user, server, req.method, name);
  } catch (err) {
    return { response: errorResponse(req.id, McpCode.InvalidParams, (err as Error).message) };
  }
  const body = new TextEncoder().encode(JSON.stringify(req));
  if (body.length + 1024 > mesh.maxPayload()) {
    return {
      response: errorResponse(
        req.id,
        McpCode.PayloadTooLarge,
        `the request is ${body.length} bytes, over the NATS max_payload of ${mesh.maxPayload()}`,
      ),
    };
  }
  return { subject, body };
}

export function requestHeaders(req: JsonRpcRequest, name: string | undefined, opts: McpRequestOptions) {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(opts.headers ?? {})) h.set(k, v);
  h.set(McpHeader.Wire, WIRE_VERSION);
  h.set(McpHeader.Method, req.method);
  if (name !== undefined) h.set(McpHeader.Name, encodeHeaderValue(name));
  const meta = req.params?._meta as Record<string, unknown> | undefined;
  const version = meta?.[MetaKey.ProtocolVersion];
  if (typeof version === "string") h.set(McpHeader.ProtocolVersion, encodeHeaderValue(version));
  if (opts.acceptClaim ?? true) h.set(McpHeader.AcceptClaim, "1");
  return h;
}

/** What one frame of the reply stream means for the request. */
export type FrameOutcome =
  /** Keep-alive, notification (delivered), or a frame kind this wire does not know. */
  | { type: "wait" }
  | { type: "cancelled" }
  | { type: "claim"; claim: string; digest?: string }
  | { type: "response"; response: JsonRpcResponse };

/** Reads one frame (reporting it to `onFrame` and a notification to `onNotification`). */
export function readFrame(m: Msg, req: JsonRpcRequest, opts: McpRequestOptions): FrameOutcome {
  const frame = m.headers?.get(McpHeader.Frame) ?? "";
  const text = m.data.length ? new TextDecoder().decode(m.data) : "";
  opts.onFrame?.(frame, text, headerRecord(m));
  if (frame === Frame.KeepAlive) return { type: "wait" };
  if (frame === Frame.Msg) {
    const n = parseObject(text);
    if (n && typeof n.method === "string") opts.onNotification?.(n as unknown as JsonRpcNotification);
    return { type: "wait" };
  }
  if (frame === Frame.End && text === "") {
    const claim = m.headers?.get(McpHeader.Claim);
    if (!claim) return { type: "cancelled" };
    return { type: "claim", claim, digest: m.headers?.get(McpHeader.ClaimDigest) || undefined };
  }
  if (frame === Frame.End || frame === Frame.Err) return { type: "response", response: asResponse(req, text) };
  // An unknown frame kind from a newer wire: ignored, as the keep-alive already counted it.
  return { type: "wait" };
}

export function noServer(req: JsonRpcRequest, server: string, tenant: string): JsonRpcResponse {
  return errorResponse(
    req.id,
    McpCode.NoServer,
    `no tool server '${server}' is serving on the mesh '${tenant}' (no responders); start it with 'lyra tools'`,
  );
}

/** The claim-checked result, fetched, verified and deleted; a failed fetch is the wire error it was. */
export function fetchClaimed(
  mesh: Mesh,
  tenant: string,
  req: JsonRpcRequest,
  claim: string,
  digest: string | undefined,
): Promise<JsonRpcResponse> {
  return takeClaim(mesh, tenant, claim, digest).then(
    (bytes) => asResponse(req, new TextDecoder().decode(bytes)),
    (err: McpWireError) => errorResponse(req.id, err.rpcCode ?? McpCode.StreamLost, err.message),
  );
}

/** The terminal body as a response; an unreadable one is a lost stream (re-issue). */
function asResponse(req: JsonRpcRequest, text: string): JsonRpcResponse {
  return (
    parseResponse(req.id, text) ??
    errorResponse(req.id, McpCode.StreamLost, "the tool server's response was not a JSON-RPC response; re-issue the request")
  );
}

function headerRecord(m: Msg): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of m.headers?.keys() ?? []) out[k] = m.headers!.get(k);
  return out;
}
