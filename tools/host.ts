/**
 * The tool host (`lyra tools`): every configured tool server on NATS, each its own micro service
 * `mcp-<name>`. Built-ins run in process; stdio and Streamable HTTP servers are bridged through
 * the SDK client and supervised (restart with backoff, report when they cannot start). A server
 * that is down still serves: its calls fail fast with -32010 and `lyra status` shows why.
 */
import { lifecycle, type Drainable, type Mesh, type Logger } from "../mesh/index.ts";
import { TOOL_CACHE_DEFAULTS, type MeshConfig, type ToolServerConfig } from "../schemas/index.ts";
import type { BackoffOptions } from "./backoff.ts";
import { bridgeHandler } from "./bridge.ts";
import { createKvCache, type ToolCache } from "./cache.ts";
import { BUILTIN_TOOL_SERVERS, type BuiltinToolServer, type StartedBuiltin } from "./builtin/index.ts";
import { describeTarget, httpConnector, stdioConnector } from "./connectors.ts";
import { ToolsError, ToolsErrorCode } from "./errors.ts";
import { createToolMetrics, instrumentCalls, toolLabel, type ToolMetrics } from "./metrics.ts";
import { cacheCalls } from "./result-cache.ts";
import { sdkHandler } from "./sdk.ts";
import { meshRequest } from "./request.ts";
import { serveMcp, type McpHandler, type ToolServer } from "./server.ts";
import { ServerState, superviseUpstream, type Upstream } from "./upstream.ts";

export const ToolServerKind = { Builtin: "builtin", Stdio: "stdio", Http: "http" } as const;
export type ToolServerKind = (typeof ToolServerKind)[keyof typeof ToolServerKind];

export interface ToolHostOptions {
  /** The mesh name (the MCP tenant). */
  tenant: string;
  /** This machine's name, in service metadata and `lyra status`. */
  host: string;
  /** `tools.servers` of the mesh config. */
  servers: Readonly<Record<string, ToolServerConfig>>;
  /** Host only these (default: all). */
  only?: readonly string[];
  /** `tools.list_ttl_s`; default 60. */
  listTtlS?: number;
  log: Logger;
  /** Default BUILTIN_TOOL_SERVERS. */
  builtins?: Readonly<Record<string, BuiltinToolServer>>;
  /** Where `${VAR}` comes from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  backoff?: BackoffOptions;
  /** A bridged server's spawn + initialize limit, ms; default 30000. */
  startTimeoutMs?: number;
  keepAliveMs?: number;
  heartbeatS?: number;
  /** `tools.cache`: the result cache's KV bucket and longest TTL; default on, with TOOL_CACHE_DEFAULTS. */
  cache?: MeshConfig["tools"]["cache"];
}

export interface HostedServerStatus {
  server: string;
  kind: ToolServerKind;
  state: ServerState;
  error?: string;
  tools: string[];
  restarts: number;
  /** The bridged child's pid (stdio, while up). */
  pid?: number;
  inFlight: number;
  /** tools/list requests that reached a bridged server (the rest came from the cache). */
  listFetches: number;
}

export interface ToolHost extends Drainable {
  readonly metrics: ToolMetrics;
  servers(): HostedServerStatus[];
  /** Stops taking calls, lets those in flight finish up to `graceMs` (default 10 s), then stops the servers. */
  drain(graceMs?: number): Promise<void>;
}

interface Hosted {
  server: string;
  kind: ToolServerKind;
  /** What it is for (tools.servers.<s>.description, else the built-in's own); in $SRV.INFO. */
  description?: string;
  handler: McpHandler & { close?(): Promise<void> };
  upstream?: Upstream;
  tools: () => string[];
  listFetches: () => number;
  /** The first start (bridged) or tool listing (built-in); bounded, never rejects. */
  ready: () => Promise<void>;
  /** Why a built-in could not start. */
  error?: string;
  /** Releases a built-in's long-lived parts. */
  close?: () => Promise<void>;
  /** A built-in's bounds on this host (StartedBuiltin.limits), once started. */
  limits?: () => string | undefined;
  ts?: ToolServer;
}

export async function startToolHost(mesh: Mesh, o: ToolHostOptions): Promise<ToolHost> {
  const names = selectServers(o.servers, o.only);
  // Everything that can be wrong in the config is found before anything starts.
  const plans = names.map((server) => plan(mesh, server, o.servers[server]!, o));
  const hosted = plans.map((start) => start());
  const metrics = createToolMetrics(() =>
    hosted.map((h) => ({ server: h.server, up: stateOf(h) === ServerState.Up, restarts: h.upstream?.status().restarts ?? 0 })),
  );
  // First starts run side by side and are bounded (start timeout): a bad server never holds the others up.
  await Promise.all(hosted.map((h) => h.ready()));
  const c = o.cache ?? { enabled: true, ...TOOL_CACHE_DEFAULTS };
  const maxTtlMs = c.max_ttl_s * 1000;
  const cache = c.enabled ? { store: createKvCache(mesh.nc, { bucket: c.bucket, maxAgeMs: maxTtlMs, log: o.log }), maxTtlMs } : undefined;

  try {
    for (const h of hosted) {
      h.ts = await serveMcp(mesh, {
        server: h.server,
        tenant: o.tenant,
        host: o.host,
        handler: instrumentCalls(withCache(h, cache, o.tenant, o.log, metrics), h.server, metrics, h.tools),
        description: `${h.description ? `${h.description}: ` : ""}MCP server '${h.server}' (${h.kind}) hosted by lyra tools on ${o.host}`,
        metadata: { kind: h.kind, tools: h.tools().join(","), ...(h.limits?.() ? { limits: h.limits()! } : {}) },
        stats: () => ({
          kind: h.kind,
          state: stateOf(h),
          error: errorOf(h),
          tools: h.tools(),
          restarts: h.upstream?.status().restarts ?? 0,
        }),
        keepAliveMs: o.keepAliveMs,
        heartbeatS: o.heartbeatS,
      });
    }
  } catch (err) {
    await stopAll(hosted, 0);
    throw err;
  }
  for (const h of hosted) {
    const st = stateOf(h);
    o.log.info({ server: h.server, kind: h.kind, state: st, tools: h.tools(), error: errorOf(h) }, `tool server '${h.server}': ${st}`);
  }
  o.log.info({ servers: hosted.map((h) => h.server) }, "tool host serving");

  return {
    metrics,
    servers: () =>
      hosted.map((h) => {
        const s = h.upstream?.status();
        return {
          server: h.server,
          kind: h.kind,
          state: stateOf(h),
          error: errorOf(h),
          tools: h.tools(),
          restarts: s?.restarts ?? 0,
          pid: s?.pid,
          inFlight: h.ts?.inFlight() ?? 0,
          listFetches: h.listFetches(),
        };
      }),
    ...lifecycle({ drain: (graceMs: number = 10_000) => stopAll(hosted, graceMs), close: () => stopAll(hosted, 0) }),
  };
}

/** Checks one server's config (builtin name, `${VAR}`s) and returns what starts it. */
function plan(mesh: Mesh, server: string, cfg: ToolServerConfig, o: ToolHostOptions): () => Hosted {
  const log = o.log.child({ component: "tool-server", server });
  if ("builtin" in cfg) {
    const builtins = o.builtins ?? BUILTIN_TOOL_SERVERS;
    const b = builtins[cfg.builtin];
    if (!b) {
      throw new ToolsError(
        ToolsErrorCode.Config,
        `tools.servers.${server}.builtin is '${cfg.builtin}', which is not a built-in tool server; ` +
          `use one of: ${Object.keys(builtins).join(", ")}`,
      );
    }
    return () => {
      let started: StartedBuiltin | undefined;
      const h: Hosted = {
        server,
        kind: ToolServerKind.Builtin,
        description: cfg.description ?? b.description,
        handler: sdkHandler((ctx) => {
          if (!started)
            throw new ToolsError(ToolsErrorCode.NotStarted, `built-in tool server '${server}' is not running: ${h.error ?? "starting"}`);
          return started.create(ctx);
        }),
        tools: () => tools,
        listFetches: () => 0,
        ready: async () => {
          try {
            started = await b.start({
              server,
              options: cfg.options ?? {},
              mesh,
              tenant: o.tenant,
              host: o.host,
              env: o.env ?? process.env,
              log,
            });
          } catch (err) {
            h.error = err instanceof Error ? err.message : String(err);
            log.error({ err }, `built-in tool server '${server}' failed to start`);
            return;
          }
          tools = await listOnce(h.handler, o.tenant).catch(
            (err: unknown) => (log.warn({ err }, "built-in tool server does not list its tools"), []),
          );
        },
        close: async () => started?.close?.(),
        limits: () => started?.limits,
      };
      let tools: string[] = [];
      return h;
    };
  }
  const kind = "command" in cfg ? ToolServerKind.Stdio : ToolServerKind.Http;
  const connect = "command" in cfg ? stdioConnector(server, cfg, o.env) : httpConnector(server, cfg, o.env);
  return () => {
    const upstream = superviseUpstream({
      server,
      target: describeTarget(cfg),
      connect,
      log,
      host: o.host,
      backoff: o.backoff,
      startTimeoutMs: o.startTimeoutMs,
    });
    const bridge = bridgeHandler(upstream, { listTtlMs: (o.listTtlS ?? 60) * 1000 });
    const ready = async () => {
      await upstream.firstAttempt;
      if (upstream.status().state === ServerState.Up)
        await bridge.refreshTools().catch((err: unknown) => log.warn({ err }, "bridged MCP server does not list its tools"));
    };
    return {
      server,
      kind,
      description: cfg.description,
      handler: bridge,
      upstream,
      tools: bridge.toolNames,
      listFetches: bridge.listFetches,
      ready,
    };
  };
}

/** A hosted server's handler behind the result cache, shared by every replica through its KV bucket. */
function withCache(
  h: Hosted,
  cache: { store: ToolCache; maxTtlMs: number } | undefined,
  tenant: string,
  log: Logger,
  metrics: ToolMetrics,
): McpHandler {
  if (!cache) return h.handler;
  return cacheCalls(h.handler, {
    server: h.server,
    tenant,
    cache: cache.store,
    maxTtlMs: cache.maxTtlMs,
    log: log.child({ component: "tool-cache", server: h.server }),
    count: (tool, result) => metrics.cache.inc({ server: h.server, tool: toolLabel(tool, h.tools), result }),
  });
}

function selectServers(servers: Readonly<Record<string, ToolServerConfig>>, only: readonly string[] | undefined): string[] {
  const all = Object.keys(servers);
  if (!only) return all;
  const unknown = only.filter((n) => !servers[n]);
  if (unknown.length) {
    throw new ToolsError(
      ToolsErrorCode.Config,
      `--only names ${unknown.map((n) => `'${n}'`).join(", ")}, ` +
        `not in the config's tools.servers (${all.join(", ") || "none"}); pass names from there`,
    );
  }
  return [...new Set(only)];
}

function stateOf(h: Hosted): ServerState {
  if (h.upstream) return h.upstream.status().state;
  return h.error === undefined ? ServerState.Up : ServerState.Failed;
}

function errorOf(h: Hosted): string | undefined {
  return h.upstream?.status().error ?? h.error;
}

/** The services stop taking calls first (drain), then the bridged servers stop. */
async function stopAll(hosted: Hosted[], graceMs: number): Promise<void> {
  await Promise.all(hosted.map(async (h) => h.ts?.drain(graceMs)));
  await Promise.all(hosted.map(async (h) => (await h.upstream?.close(), await h.handler.close?.(), await h.close?.())));
}

/** A built-in's tool names, asked the way a mesh client would. */
async function listOnce(handler: McpHandler, tenant: string): Promise<string[]> {
  const res = await handler(meshRequest("tools/list"), {
    signal: new AbortController().signal,
    notify: () => undefined,
    tenant,
    user: "_",
  });
  return "result" in res ? ((res.result.tools as { name: string }[] | undefined) ?? []).map((t) => t.name) : [];
}
