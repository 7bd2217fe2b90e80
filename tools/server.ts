/**
 * Serves one MCP server on NATS (wire v1): a micro service `mcp-<server>` whose endpoint takes
 * `mcp.v1.req.<tenant>.*.<server>.>` in a queue group shared by the replicas. Each request is
 * checked (subject = headers = body), handed to the handler, and answered with `msg` frames for
 * its notifications, `ka` frames while it works, and one `end` (or `err`) frame.
 */
import { headers as natsHeaders, type Msg, type Subscription } from "@nats-io/nats-core";
import { Svcm, type Service } from "@nats-io/services";
import type { Mesh } from "../mesh/connect.ts";
import { parseMcpSubject, subjects } from "../mesh/subjects.ts";
import { tracer } from "../mesh/telemetry.ts";
import { putClaim } from "./claim.ts";
import { ToolsError } from "./errors.ts";
import { checkInbound } from "./integrity.ts";
import {
  errorResponse,
  DEFAULT_MCP_KEEP_ALIVE_MS,
  Frame,
  McpCode,
  McpHeader,
  WIRE_VERSION,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "./wire.ts";

export interface McpRequestContext {
  /** Aborted when the caller cancels (`{reply}.ctl`) or the server stops. */
  signal: AbortSignal;
  /** Sends one notification (progress, log) to the caller as a `msg` frame. */
  notify(n: JsonRpcNotification): void;
  tenant: string;
  /** The caller's identity token from the subject (`_` when unattributed). */
  user: string;
  /** This request's span as a W3C traceparent (continues the caller's `traceparent` header). */
  traceparent?: string;
}

/** Answers one JSON-RPC request; a thrown error becomes a -32603 response. */
export type McpHandler = (req: JsonRpcRequest, ctx: McpRequestContext) => Promise<JsonRpcResponse>;

export interface ServeMcpOptions {
  /** The tool server's name: a subject token. */
  server: string;
  /** The mesh name: the tenant token of every subject. */
  tenant: string;
  host: string;
  handler: McpHandler;
  version?: string;
  description?: string;
  /** Static service metadata (tool names, kind...). */
  metadata?: Record<string, string>;
  /** Extra `$SRV.STATS` data and heartbeat fields: state, error, tools. */
  stats?: () => Record<string, unknown>;
  /** Default 5000 ms. */
  keepAliveMs?: number;
  /** Heartbeat period, s; default 5. */
  heartbeatS?: number;
  /** Claim-check object max age, ms. */
  claimMaxAgeMs?: number;
}

export interface ToolServer extends AsyncDisposable {
  readonly server: string;
  readonly instanceId: string;
  inFlight(): number;
  /** Stops taking requests, waits for those in flight up to `graceMs` (default 10 s), then ends them with -32010. */
  drain(graceMs?: number): Promise<void>;
  /** Stops at once: requests in flight end with -32010. */
  close(): Promise<void>;
}

interface Live {
  abort: AbortController;
  /** The last frame is sent (or being sent): nothing more goes to the caller. */
  done: boolean;
  reply: string;
  id: JsonRpcRequest["id"];
  ka?: NodeJS.Timeout;
  ctl?: Subscription;
}

export async function serveMcp(mesh: Mesh, o: ServeMcpOptions): Promise<ToolServer> {
  const subject = subjects.mcpServer(o.tenant, o.server);
  const keepAliveMs = o.keepAliveMs ?? DEFAULT_MCP_KEEP_ALIVE_MS;
  const log = mesh.log.child({ component: "mcp-server", server: o.server });
  const live = new Set<Live>();
  let accepting = true;

  const send = (reply: string, frame: Frame, body?: Uint8Array | string, extra?: Record<string, string>) => {
    const h = natsHeaders();
    h.set(McpHeader.Wire, WIRE_VERSION);
    h.set(McpHeader.Frame, frame);
    for (const [k, v] of Object.entries(extra ?? {})) h.set(k, v);
    try {
      mesh.nc.publish(reply, body ?? new Uint8Array(0), { headers: h });
    } catch (err) {
      log.debug({ err, reply }, "reply frame not sent");
    }
  };
  const sendError = (reply: string, res: JsonRpcResponse) => send(reply, Frame.Err, JSON.stringify(res));
  /** Ends a request's stream: no more frames, timer and cancel subscription released. */
  const terminate = (l: Live): boolean => {
    if (l.done) return false;
    l.done = true;
    clearInterval(l.ka);
    if (l.ctl && !l.ctl.isClosed() && !mesh.nc.isClosed()) l.ctl.unsubscribe();
    live.delete(l);
    return true;
  };

  const finish = async (l: Live, res: JsonRpcResponse, acceptClaim: boolean) => {
    if (!terminate(l)) return;
    const body = new TextEncoder().encode(JSON.stringify(res));
    // Headers and protocol overhead ride on top of the body: keep 1 KiB for them.
    if (body.length + 1024 <= mesh.maxPayload()) return send(l.reply, Frame.End, body);
    if (!acceptClaim) {
      return sendError(
        l.reply,
        errorResponse(
          l.id,
          McpCode.PayloadTooLarge,
          `the result is ${body.length} bytes, over the NATS max_payload of ${mesh.maxPayload()}; send Mcp-Accept-Claim: 1 to receive it through the claim-check store`,
        ),
      );
    }
    try {
      const claim = await putClaim(mesh, o.tenant, body, o.claimMaxAgeMs);
      send(l.reply, Frame.End, undefined, { [McpHeader.Claim]: claim.id, [McpHeader.ClaimDigest]: claim.sha256 });
    } catch (err) {
      log.warn({ err }, "claim-check store refused the result");
      sendError(
        l.reply,
        errorResponse(
          l.id,
          McpCode.PayloadTooLarge,
          `the result is ${body.length} bytes and the claim-check store refused it: ${(err as Error).message}`,
        ),
      );
    }
  };

  const onRequest = (msg: Msg) => {
    const reply = msg.reply;
    if (!reply) return; // a publish without a reply subject asks nothing
    const parsed = parseMcpSubject(msg.subject);
    if (!parsed) return sendError(reply, errorResponse(null, McpCode.InvalidRequest, `'${msg.subject}' is not an MCP request subject`));
    if (!accepting)
      return sendError(
        reply,
        errorResponse(null, McpCode.StreamLost, `tool server '${o.server}' on ${o.host} is shutting down; re-issue the request`),
      );
    const checked = checkInbound(parsed, msg.headers, msg.data);
    if (!checked.ok) return sendError(reply, errorResponse(checked.id, checked.code, checked.message, checked.data));
    const req = checked.request;
    const l: Live = { abort: new AbortController(), done: false, reply, id: req.id };
    live.add(l);
    l.ctl = mesh.nc.subscribe(subjects.mcpControl(reply), {
      max: 1,
      callback: () => {
        if (terminate(l)) send(reply, Frame.End); // empty end: cancelled, no response exists
        l.abort.abort(new ToolsError("cancelled", "the caller cancelled the request"));
      },
    });
    l.ka = setInterval(() => send(reply, Frame.KeepAlive), keepAliveMs);
    const acceptClaim = msg.headers?.get(McpHeader.AcceptClaim) === "1";
    // The caller's traceparent continues here; a tools/call is logged with its trace id.
    const name = typeof req.params?.name === "string" ? req.params.name : undefined;
    const span = tracer().start(`mcp ${req.method}${name ? ` ${name}` : ""}`, msg.headers?.get("traceparent"), {
      kind: "server",
      attributes: { "mcp.method.name": req.method, "lyra.tool.server": o.server, "lyra.tool": name, "lyra.caller": parsed.user },
    });
    const started = Date.now();
    const ctx: McpRequestContext = {
      signal: l.abort.signal,
      notify: (n) => {
        if (!l.done) send(reply, Frame.Msg, JSON.stringify(n));
      },
      tenant: parsed.tenant,
      user: parsed.user,
      traceparent: span.traceparent,
    };
    void o
      .handler(req, ctx)
      .catch((err: unknown) =>
        errorResponse(req.id, McpCode.Internal, `tool server '${o.server}' failed: ${err instanceof Error ? err.message : String(err)}`),
      )
      .then((res) => {
        const error = "error" in res ? res.error.message : undefined;
        span.end(error);
        const fields = {
          trace_id: span.traceId,
          method: req.method,
          tool: name,
          caller: parsed.user,
          ms: Date.now() - started,
          ...(error ? { error } : {}),
        };
        if (req.method === "tools/call") log.info(fields, "tool call answered");
        else log.debug(fields, "mcp request answered");
        return res;
      })
      .then((res) => finish(l, res, acceptClaim))
      .catch((err: unknown) => {
        // finish() itself failed (a result that cannot be serialized): the caller still gets an end.
        log.error({ err }, "could not send a result");
        sendError(reply, errorResponse(req.id, McpCode.Internal, `tool server '${o.server}' could not send its result`));
      });
  };

  const service: Service = await new Svcm(mesh.nc as unknown as Svcm["nc"]).add({
    name: `mcp-${o.server}`,
    version: o.version ?? "0.1.0",
    description: o.description ?? `MCP server '${o.server}' on NATS (wire v1)`,
    metadata: { wire: `mcp.v${WIRE_VERSION}`, mesh: o.tenant, server: o.server, host: o.host, ...o.metadata },
    statsHandler: async () => ({ in_flight: live.size, ...o.stats?.() }),
  });
  service.addEndpoint("mcp", {
    subject,
    queue: subjects.mcpQueue(o.server),
    metadata: { server: o.server },
    handler: (err, msg) => {
      if (err) return log.warn({ err }, "endpoint error");
      onRequest(msg as unknown as Msg);
    },
  });
  const instanceId = service.info().id;
  const heartbeatS = o.heartbeatS ?? 5;
  const beat = () => {
    if (mesh.nc.isClosed()) return;
    const body = {
      server: o.server,
      host: o.host,
      instance_id: instanceId,
      ts: new Date().toISOString(),
      interval_s: heartbeatS,
      in_flight: live.size,
      ...o.stats?.(),
    };
    try {
      mesh.nc.publish(subjects.mcpHeartbeat(o.tenant, o.server), JSON.stringify(body));
    } catch (err) {
      log.debug({ err }, "heartbeat not sent");
    }
  };
  beat();
  const hb = setInterval(beat, heartbeatS * 1000);
  log.info({ subject, instanceId }, "tool server serving");

  const endAll = (why: string) => {
    for (const l of [...live]) {
      if (terminate(l)) sendError(l.reply, errorResponse(l.id, McpCode.StreamLost, `${why}; re-issue the request`));
      l.abort.abort(new ToolsError("stopped", why));
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = (graceMs: number) =>
    (stopped ??= (async () => {
      accepting = false;
      clearInterval(hb);
      await service.stop().catch(() => undefined);
      const until = Date.now() + graceMs;
      while (live.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      endAll(`tool server '${o.server}' on ${o.host} stopped`);
      await mesh.nc.flush().catch(() => undefined);
    })());
  return {
    server: o.server,
    instanceId,
    inFlight: () => live.size,
    drain: (graceMs = 10_000) => stop(graceMs),
    close: () => stop(0),
    [Symbol.asyncDispose]: () => stop(0),
  };
}
