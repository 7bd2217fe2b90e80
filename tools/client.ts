/**
 * The caller's side of MCP over NATS: one request, its frames, one response. Local failures are
 * the wire's codes: no responders -32011, silence past the inactivity limit -32010, a request over
 * max_payload -32012. A claim-checked result is fetched, verified and deleted here, so callers
 * only ever see the response.
 */
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import type { Mesh } from "../mesh/connect.ts";
import { createReplyRoutes, type ReplyInbox } from "../mesh/rolecall/index.ts";
import { MCP_UNSET, subjects } from "../mesh/subjects.ts";
import { takeClaim } from "./claim.ts";
import { McpWireError, ToolsError, ToolsErrorCode } from "./errors.ts";
import {
  DEFAULT_MCP_KEEP_ALIVE_MS,
  encodeHeaderValue,
  errorResponse,
  Frame,
  McpCode,
  McpHeader,
  MetaKey,
  parseObject,
  parseResponse,
  requestName,
  WIRE_VERSION,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "./wire.ts";

/** No frame at all for this long means the server is gone: 3 keep-alive periods. */
export const DEFAULT_MCP_INACTIVITY_MS = 3 * DEFAULT_MCP_KEEP_ALIVE_MS;
/** JSON-RPC code of a request that outlived its timeout (the MCP SDK's). */
export const REQUEST_TIMEOUT = -32001;

export interface McpRequestOptions {
  signal?: AbortSignal;
  /** Whole-request limit, ms; default none (the inactivity limit still applies). */
  timeoutMs?: number;
  /** Default 15000 ms. */
  inactivityMs?: number;
  /** Each notification, as it arrives. */
  onNotification?: (n: JsonRpcNotification) => void;
  /** Every frame, raw (for `lyra tools call`). */
  onFrame?: (frame: string, body: string, headers: Record<string, string>) => void;
  /** Let a result over max_payload come through the claim-check store; default true. */
  acceptClaim?: boolean;
  /** Extra NATS headers on the request (the caller's `traceparent`). */
  headers?: Record<string, string>;
}

export interface McpClientOptions {
  /** The mesh name. */
  tenant: string;
  /** The caller's identity token (the calling role); default `_`. */
  user?: string;
}

export interface McpClient {
  readonly tenant: string;
  readonly user: string;
  /**
   * Sends one request to a tool server. Resolves with its JSON-RPC response (errors included);
   * rejects only with `ToolsError`: `cancelled` when the signal aborts, `closed` when the client closes.
   */
  request(server: string, req: JsonRpcRequest, opts?: McpRequestOptions): Promise<JsonRpcResponse>;
  close(): void;
}

export function createMcpClient(mesh: Mesh, o: McpClientOptions): McpClient {
  const routes = createReplyRoutes(mesh.nc);
  const user = o.user ?? MCP_UNSET;
  // Settlers of the requests in flight, so close() ends them at once.
  const pending = new Set<(err: ToolsError) => void>();
  return {
    tenant: o.tenant,
    user,
    request: (server, req, opts = {}) => request(mesh, routes.open.bind(routes), pending, o.tenant, user, server, req, opts),
    close: () => {
      for (const fail of [...pending])
        fail(new ToolsError(ToolsErrorCode.Closed, "the MCP client was closed while the request was in flight"));
      routes.close();
    },
  };
}

function request(
  mesh: Mesh,
  open: (deliver: (m: Msg) => void) => ReplyInbox,
  pending: Set<(err: ToolsError) => void>,
  tenant: string,
  user: string,
  server: string,
  req: JsonRpcRequest,
  opts: McpRequestOptions,
): Promise<JsonRpcResponse> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new ToolsError(ToolsErrorCode.Cancelled, "the request was cancelled before it was sent"));
    const name = requestName(req.method, req.params);
    const prepared = prepare(mesh, tenant, user, server, req, name);
    if ("response" in prepared) return resolve(prepared.response);
    const { subject, body } = prepared;
    let settled = false;
    // Frames are routed to onMsg (below) only after the publish at the end.
    const inbox: ReplyInbox = open((m) => onMsg(m));
    const closed = (err: ToolsError) => done(() => reject(err));
    pending.add(closed);
    let idle: NodeJS.Timeout | undefined;
    let overall: NodeJS.Timeout | undefined;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      pending.delete(closed);
      clearTimeout(idle);
      clearTimeout(overall);
      opts.signal?.removeEventListener("abort", onAbort);
      inbox.close();
      fn();
    };
    const cancel = () => {
      try {
        mesh.nc.publish(subjects.mcpControl(inbox.subject));
      } catch {
        // the connection is closing: the server ends the request when it notices
      }
    };
    const onAbort = () => {
      cancel();
      done(() =>
        reject(new ToolsError(ToolsErrorCode.Cancelled, `MCP ${req.method} on '${server}' cancelled`, { cause: opts.signal?.reason })),
      );
    };
    const inactivityMs = opts.inactivityMs ?? DEFAULT_MCP_INACTIVITY_MS;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        cancel();
        done(() =>
          resolve(
            errorResponse(
              req.id,
              McpCode.StreamLost,
              `tool server '${server}' sent nothing for ${inactivityMs} ms (its stream is presumed lost); re-issue the request`,
            ),
          ),
        );
      }, inactivityMs);
    };
    const onMsg = (m: Msg) => {
      if (settled) return;
      if (m.headers?.code === 503 && m.data.length === 0) return done(() => resolve(noServer(req, server, tenant)));
      armIdle();
      const out = readFrame(m, req, opts);
      if (out.type === "cancelled") {
        return done(() => reject(new ToolsError(ToolsErrorCode.Cancelled, `MCP ${req.method} on '${server}' was cancelled by the server`)));
      }
      if (out.type === "response") return done(() => resolve(out.response));
      if (out.type === "claim") {
        clearTimeout(idle);
        return void fetchClaimed(mesh, tenant, req, out.claim, out.digest).then((res) => done(() => resolve(res)));
      }
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    if (opts.timeoutMs !== undefined) {
      overall = setTimeout(() => {
        cancel();
        done(() =>
          resolve(errorResponse(req.id, REQUEST_TIMEOUT, `MCP ${req.method} on '${server}' timed out after ${opts.timeoutMs} ms`)),
        );
      }, opts.timeoutMs);
    }
    armIdle();
    try {
      mesh.nc.publish(subject, body, { reply: inbox.subject, headers: requestHeaders(req, name, opts) });
    } catch (err) {
      done(() =>
        resolve(errorResponse(req.id, McpCode.StreamLost, `MCP ${req.method} on '${server}' not sent: ${(err as Error).message}`)),
      );
    }
  });
}

/** The request's subject and body, or the error response that stops it before it is sent. */
function prepare(
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

function requestHeaders(req: JsonRpcRequest, name: string | undefined, opts: McpRequestOptions) {
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
type FrameOutcome =
  /** Keep-alive, notification (delivered), or a frame kind this wire does not know. */
  | { type: "wait" }
  | { type: "cancelled" }
  | { type: "claim"; claim: string; digest?: string }
  | { type: "response"; response: JsonRpcResponse };

/** Reads one frame (reporting it to `onFrame` and a notification to `onNotification`). */
function readFrame(m: Msg, req: JsonRpcRequest, opts: McpRequestOptions): FrameOutcome {
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

function noServer(req: JsonRpcRequest, server: string, tenant: string): JsonRpcResponse {
  return errorResponse(
    req.id,
    McpCode.NoServer,
    `no tool server '${server}' is serving on the mesh '${tenant}' (no responders); start it with 'lyra tools'`,
  );
}

/** The claim-checked result, fetched, verified and deleted; a failed fetch is the wire error it was. */
function fetchClaimed(
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
