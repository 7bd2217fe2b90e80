/**
 * The agent host: serves every role placed on one GPU host, each backed by that host's Ollama
 * (or the backend its config names), with the LiteLLM fallback, metrics and health reporting.
 */
import {
  lifecycle,
  natsReadiness,
  putMedia,
  readinessOf,
  readMedia,
  responseCacheBucket,
  serveMetrics,
  type Drainable,
  type Mesh,
  type Logger,
  type Readiness,
  type ReadinessCheck,
  type RoleResponder,
} from "../../mesh/index.ts";
import type { MediaAccess } from "./media.ts";
import type { Server } from "node:http";
import type { MeshConfig } from "../../schemas/index.ts";
import { BackendConfigError } from "../errors.ts";
import { createRoleBackends } from "./backends.ts";
import { checkHealth as checkRoles, initialStates, warmModels, type RoleState } from "./health.ts";
import { createAgentMetrics, type AgentMetrics } from "./metrics.ts";
import { createResponseCacheStore } from "./respcache-store.ts";
import { serveHostRole, type ServingOptions } from "./serving.ts";
import { defaultSpecialistOf, specialistsOf } from "./specialists.ts";
import { createToolPlane } from "./tools.ts";
import type { ModelBackend } from "../backends/index.ts";

export type { RoleState } from "./health.ts";

export interface AgentHostOptions {
  config: MeshConfig;
  /** Which entry of config.hosts this process serves. */
  host: string;
  mesh: Mesh;
  log: Logger;
  /** /metrics port; default config.metrics.port; null serves none. */
  metricsPort?: number | null;
  /** How often backend health is checked, ms; default 10000. */
  healthIntervalMs?: number;
  /** Responder keep-alive period, ms (tests shorten it); default the responder's (250). */
  keepAliveMs?: number;
  /** Heartbeat period, s; default 30. */
  heartbeatIntervalS?: number;
  /** Capacity state period, ms; default 500; 0 turns the state feed off (callers use the queue group). */
  stateIntervalMs?: number;
}

export interface AgentHost extends Drainable {
  readonly host: string;
  readonly responders: RoleResponder[];
  readonly metrics: AgentMetrics;
  /** Each served role's primary backend, by role (a test reaches its scripted backends' assertAllUsed here). */
  readonly backends: ReadonlyMap<string, ModelBackend>;
  /** The /metrics port, when served. */
  readonly metricsPort: number | undefined;
  state(): RoleState[];
  /** Re-checks every backend now (also runs every healthIntervalMs). */
  checkHealth(): Promise<void>;
  /** /readyz: not ready while NATS is disconnected, a role's backend is unhealthy (degraded) or the host drains. */
  ready(): Readiness;
}

/** The config's entry for `host`; throws naming the hosts there are and the fix when it has none. */
export function hostConfigOf(config: MeshConfig, host: string): MeshConfig["hosts"][string] {
  const hostCfg = config.hosts[host];
  if (!hostCfg) {
    throw new BackendConfigError(
      `host '${host}' is not in the config's hosts (${Object.keys(config.hosts).join(", ")}); ` +
        `pass --host with one of them or add hosts.${host}`,
    );
  }
  return hostCfg;
}

/** The mesh's response cache bucket, when a role placed on the host has a cache; max age the mesh's longest ttl. */
function responseCacheOf(o: AgentHostOptions, log: Logger) {
  const ttls = Object.values(o.config.roles).flatMap((r) => (r.cache ? [r.cache.ttl_s] : []));
  if (!o.config.hosts[o.host]!.roles.some((r) => o.config.roles[r]!.cache)) return undefined;
  return createResponseCacheStore(o.mesh.nc, { bucket: responseCacheBucket(o.config.mesh.name), maxAgeMs: Math.max(...ttls) * 1000, log });
}

export async function startAgentHost(o: AgentHostOptions): Promise<AgentHost> {
  const hostCfg = hostConfigOf(o.config, o.host);
  const log = o.log.child({ component: "agent", host: o.host });
  const responders: RoleResponder[] = [];
  const metrics = createAgentMetrics(() => responders.map((r) => ({ role: r.role, inFlight: r.inFlight(), queueDepth: r.queueDepth() })));
  const backends = createRoleBackends(
    { config: o.config, ollamaUrl: hostCfg.ollama_url, log, onFallback: (role, reason) => metrics.fallbacks.inc({ role, reason }) },
    hostCfg.roles,
  );
  // Only specialists with tool grants use it; it opens nothing until one lists or calls a tool.
  const tools = createToolPlane({ mesh: o.mesh, tenant: o.config.mesh.name, log, listTtlMs: o.config.tools.list_ttl_s * 1000 });
  const specialists = specialistsOf(o.config);
  const media: MediaAccess = {
    read: (m) => readMedia(o.mesh, m),
    store: async (m) => (m.object !== undefined ? m : putMedia(o.mesh, await readMedia(o.mesh, m), { placement: "store" })),
  };
  const defaultSpecialist = defaultSpecialistOf(o.config);
  const states = initialStates(o.config, hostCfg.roles);
  const serving: ServingOptions = {
    config: o.config,
    host: o.host,
    mesh: o.mesh,
    backends,
    states,
    metrics,
    tools,
    media,
    specialists,
    defaultSpecialist,
    ollamaUrl: hostCfg.ollama_url,
    log,
    keepAliveMs: o.keepAliveMs,
    heartbeatIntervalS: o.heartbeatIntervalS,
    stateIntervalMs: o.stateIntervalMs,
    responseCache: responseCacheOf(o, log),
    region: hostCfg.region ?? o.config.mesh.region,
  };

  try {
    for (const role of hostCfg.roles) responders.push(await serveHostRole(serving, role));
  } catch (err) {
    await Promise.all(responders.map((r) => r.close()));
    tools.close();
    throw err;
  }

  const checkHealth = () => checkRoles(states, backends, metrics);
  await checkHealth();
  const warming = (hostCfg.preload ? warmModels(o.config, states, backends, log) : Promise.resolve()).then(checkHealth);
  const timer = setInterval(() => {
    checkHealth().catch((err: unknown) => log.warn({ err }, "health check failed"));
  }, o.healthIntervalMs ?? 10_000);

  let draining = false;
  const ready: ReadinessCheck[] = [
    natsReadiness(o.mesh.nc),
    () => [...states.values()].filter((s) => s.degraded).map((s) => `role ${s.role}: ${s.reason ?? "backend unhealthy"}`),
    () => (draining ? ["draining"] : []),
  ];
  const port = o.metricsPort === undefined ? o.config.metrics?.port : o.metricsPort;
  let server: (Server & { port: number }) | undefined;
  if (port !== undefined && port !== null) server = await serveMetrics(metrics.registry, port, undefined, ready);
  log.info({ roles: hostCfg.roles, metricsPort: server?.port }, "agent host serving");

  const stop = async (how: "drain" | "close") => {
    draining = true;
    clearInterval(timer);
    await Promise.all(responders.map((r) => (how === "drain" ? r.drain() : r.close())));
    await warming.catch(() => undefined);
    for (const rb of backends.values()) rb.primary.close?.();
    tools.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    log.info("agent host stopped");
  };
  return {
    host: o.host,
    responders,
    metrics,
    backends: new Map([...backends].map(([role, rb]) => [role, rb.primary])),
    metricsPort: server?.port,
    state: () => [...states.values()].map((s) => ({ ...s })),
    checkHealth,
    ready: () => readinessOf(ready),
    ...lifecycle({ drain: () => stop("drain"), close: () => stop("close") }),
  };
}
