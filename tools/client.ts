/**
 * The caller's side of MCP over NATS: one request, its frames, one response. Local failures are
 * the wire's codes: no responders -32011, silence past the inactivity limit -32010, a request over
 * max_payload -32012. A claim-checked result is fetched, verified and deleted here, so callers
 * only ever see the response.
 */
import type { Msg } from "@nats-io/nats-core";
import { type Mesh, createReplyRoutes, lifecycle, type Closable, type ReplyInbox, MCP_UNSET, subjects } from "../mesh/index.ts";
import { fetchClaimed, noServer, prepare, readFrame, requestHeaders } from "./client-frames.ts";
import { ToolsError, ToolsErrorCode } from "./errors.ts";
import {
  DEFAULT_MCP_KEEP_ALIVE_MS,
  errorResponse,
  McpCode,
  requestName,
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

export interface McpClient extends Closable {
  readonly tenant: string;
  readonly user: string;
  /**
   * Sends one request to a tool server. Resolves with its JSON-RPC response (errors included);
   * rejects only with `ToolsError`: `cancelled` when the signal aborts, `closed` when the client closes.
   */
  request(server: string, req: JsonRpcRequest, opts?: McpRequestOptions): Promise<JsonRpcResponse>;
  /** Ends the requests in flight (`closed`) and the reply routes; the work is done before the promise returns. */
  close(): Promise<void>;
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
    ...lifecycle({
      close: () => {
        for (const fail of [...pending])
          fail(new ToolsError(ToolsErrorCode.Closed, "the MCP client was closed while the request was in flight"));
        routes.close();
      },
    }),
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
