/**
 * Serves one MCP server on NATS (wire v1): a micro service `mcp-<server>` whose endpoint takes
 * `mcp.v1.req.<tenant>.*.<server>.>` in a queue group shared by the replicas. Each request is
 * checked (subject = headers = body), handed to the handler, and answered with `msg` frames for
 * its notifications, `ka` frames while it works, and one `end` (or `err`) frame.
 */
import type { Msg } from "@nats-io/nats-core";
import { Svcm, type Service } from "@nats-io/services";
import { type Mesh, type Logger, lifecycle, subjects, type Drainable } from "../mesh/index.ts";
import { createRequestStreams } from "./server-requests.ts";
import { DEFAULT_MCP_KEEP_ALIVE_MS, WIRE_VERSION, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from "./wire.ts";

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

export interface ToolServer extends Drainable {
  readonly server: string;
  readonly instanceId: string;
  inFlight(): number;
  /** Stops taking requests, waits for those in flight up to `graceMs` (default 10 s), then ends them with -32010. */
  drain(graceMs?: number): Promise<void>;
  /** Stops at once: requests in flight end with -32010. */
  close(): Promise<void>;
}

export async function serveMcp(mesh: Mesh, o: ServeMcpOptions): Promise<ToolServer> {
  const subject = subjects.mcpServer(o.tenant, o.server);
  const log = mesh.log.child({ component: "mcp-server", server: o.server });
  const streams = createRequestStreams(mesh, { ...o, keepAliveMs: o.keepAliveMs ?? DEFAULT_MCP_KEEP_ALIVE_MS, log });

  const service: Service = await new Svcm(mesh.nc as unknown as Svcm["nc"]).add({
    name: `mcp-${o.server}`,
    version: o.version ?? "0.1.0",
    description: o.description ?? `MCP server '${o.server}' on NATS (wire v1)`,
    metadata: { wire: `mcp.v${WIRE_VERSION}`, mesh: o.tenant, server: o.server, host: o.host, ...o.metadata },
    statsHandler: async () => ({ in_flight: streams.inFlight(), ...o.stats?.() }),
  });
  service.addEndpoint("mcp", {
    subject,
    queue: subjects.mcpQueue(o.server),
    metadata: { server: o.server },
    handler: (err, msg) => {
      if (err) return log.warn({ err }, "endpoint error");
      streams.onRequest(msg as unknown as Msg);
    },
  });
  const instanceId = service.info().id;
  const hb = startHeartbeat(mesh, o, instanceId, streams.inFlight, log);
  log.info({ subject, instanceId }, "tool server serving");

  const stop = async (graceMs: number) => {
    streams.refuse();
    clearInterval(hb);
    await service.stop().catch(() => undefined);
    const until = Date.now() + graceMs;
    while (streams.inFlight() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    streams.endAll(`tool server '${o.server}' on ${o.host} stopped`);
    await mesh.nc.flush().catch(() => undefined);
  };
  return {
    server: o.server,
    instanceId,
    inFlight: streams.inFlight,
    ...lifecycle({ drain: (graceMs: number = 10_000) => stop(graceMs), close: () => stop(0) }),
  };
}

/** Beats at once, then every `heartbeatS` (default 5 s); the caller clears the returned timer. */
function startHeartbeat(mesh: Mesh, o: ServeMcpOptions, instanceId: string, inFlight: () => number, log: Logger): NodeJS.Timeout {
  const heartbeatS = o.heartbeatS ?? 5;
  const beat = () => {
    if (mesh.nc.isClosed()) return;
    const body = {
      server: o.server,
      host: o.host,
      instance_id: instanceId,
      ts: new Date().toISOString(),
      interval_s: heartbeatS,
      in_flight: inFlight(),
      ...o.stats?.(),
    };
    try {
      mesh.nc.publish(subjects.mcpHeartbeat(o.tenant, o.server), JSON.stringify(body));
    } catch (err) {
      log.debug({ err }, "heartbeat not sent");
    }
  };
  beat();
  return setInterval(beat, heartbeatS * 1000);
}
