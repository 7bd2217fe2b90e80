/**
 * The agent host: serves every role placed on one GPU host, each backed by that host's Ollama
 * (or the backend its config names), with the LiteLLM fallback, metrics and health reporting.
 */
import { putMedia, readMedia } from "../../mesh/media.ts";
import type { MediaAccess } from "./media.ts";
import type { Server } from "node:http";
import type { MeshConfig } from "../../schemas/config.ts";
import type { Mesh } from "../../mesh/connect.ts";
import type { Logger } from "../../mesh/logger.ts";
import { serveRole } from "../../mesh/rolecall/responder.ts";
import type { ResponderEvent, RoleResponder } from "../../mesh/rolecall/types.ts";
import { BackendConfigError } from "../errors.ts";
import { createRoleBackends } from "./backends.ts";
import { roleHandler } from "./handler.ts";
import { createAgentMetrics, serveMetrics, type AgentMetrics } from "./metrics.ts";
import { createToolPlane } from "./tools.ts";

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

export interface RoleState {
  role: string;
  model: string;
  backend: string;
  loaded: boolean;
  degraded: boolean;
  reason?: string;
}

export interface AgentHost extends AsyncDisposable {
  readonly host: string;
  readonly responders: RoleResponder[];
  readonly metrics: AgentMetrics;
  /** The /metrics port, when served. */
  readonly metricsPort: number | undefined;
  state(): RoleState[];
  /** Re-checks every backend now (also runs every healthIntervalMs). */
  checkHealth(): Promise<void>;
  drain(): Promise<void>;
  close(): Promise<void>;
  closed(): Promise<void>;
}

/** The config's entry for `host`; throws naming the hosts there are and the fix when it has none. */
export function hostConfigOf(config: MeshConfig, host: string): MeshConfig["hosts"][string] {
  const hostCfg = config.hosts[host];
  if (!hostCfg) {
    throw new BackendConfigError(
      `host '${host}' is not in the config's hosts (${Object.keys(config.hosts).join(", ")}); pass --host with one of them or add hosts.${host}`,
    );
  }
  return hostCfg;
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
  const specialists = Object.entries(o.config.roles)
    .filter(([, r]) => r.kind === "specialist")
    .map(([name, r]) => ({ name, description: r.description, vision: r.vision }));
  const media: MediaAccess = {
    read: (m) => readMedia(o.mesh, m),
    store: async (m) => (m.object !== undefined ? m : putMedia(o.mesh, await readMedia(o.mesh, m), { placement: "store" })),
  };
  const defaultSpecialist = o.config.router?.default_specialist ?? specialists[0]?.name;
  const states = new Map<string, RoleState>(
    hostCfg.roles.map((role) => {
      const rc = o.config.roles[role]!;
      return [role, { role, model: rc.model, backend: rc.backend, loaded: rc.backend !== "ollama", degraded: false }];
    }),
  );

  try {
    for (const role of hostCfg.roles) {
      const rc = o.config.roles[role]!;
      const rb = backends.get(role)!;
      const st = states.get(role)!;
      responders.push(
        await serveRole(o.mesh, {
          role,
          host: o.host,
          owner: o.config.mesh.owner,
          concurrency: rc.slots,
          queueSize: rc.queue,
          keepAliveMs: o.keepAliveMs,
          // Only a vision model can use what a request attaches (attachments_ok, §2.1).
          attachments: rc.vision,
          heartbeatIntervalS: o.heartbeatIntervalS,
          metadata: { mesh: o.config.mesh.name, model: rc.model, backend: rc.backend, kind: rc.kind },
          stats: () => ({ model: st.model, backend: st.backend, loaded: st.loaded, degraded: st.degraded, reason: st.reason }),
          events: (e) => observe(metrics, role, e),
          capacity: () => st,
          stateIntervalMs: o.stateIntervalMs,
          handler: roleHandler({
            role,
            host: o.host,
            config: rc,
            backend: rb.backend,
            specialists,
            defaultSpecialist,
            tools,
            media,
            autoRecall: o.config.memory?.auto_recall ? { server: o.config.memory.server, topK: o.config.memory.top_k } : undefined,
            onToolResult: (r) => {
              metrics.toolCalls.inc({ role, server: r.server, tool: r.tool, outcome: r.status });
              metrics.toolDuration.observe({ role, server: r.server, tool: r.tool }, r.latencyMs / 1000);
            },
            onFinal: (f) => {
              // A model that answered is loaded (not the fallback's); the health check (Ollama /api/ps) notices unloads.
              if (!f.fallback) st.loaded = true;
              metrics.tokens.inc({ role, kind: "prompt" }, f.usage.prompt_tokens);
              metrics.tokens.inc({ role, kind: "completion" }, f.usage.completion_tokens);
              const genMs = f.timings.total_ms - (f.timings.first_token_ms ?? 0);
              if (f.usage.completion_tokens > 0 && genMs > 0)
                metrics.tokensPerSecond.observe({ role, backend: f.backend }, (f.usage.completion_tokens * 1000) / genMs);
            },
          }),
        }),
      );
    }
  } catch (err) {
    await Promise.all(responders.map((r) => r.close()));
    tools.close();
    throw err;
  }

  // Health: which models are there and loaded; a role is degraded when its primary cannot serve it.
  const checkHealth = async () => {
    await Promise.all(
      [...states.values()].map(async (st) => {
        const rb = backends.get(st.role)!;
        const h = await rb.primary.health({ timeoutMs: 3000 });
        const missing = h.ok && rb.primary.name === "ollama" && !h.models.some((m) => sameModel(m, st.model));
        st.loaded = rb.primary.name !== "ollama" || h.loaded.some((m) => sameModel(m, st.model));
        st.degraded = !h.ok || missing || rb.breakerOpen();
        st.reason = !h.ok
          ? h.error
          : missing
            ? `model '${st.model}' is not pulled; run 'ollama pull ${st.model}'`
            : rb.breakerOpen()
              ? "circuit breaker open"
              : undefined;
        metrics.degraded.set({ role: st.role }, st.degraded ? 1 : 0);
      }),
    );
  };
  await checkHealth();
  // Pre-load models so the first request does not pay the load; a failure leaves the role degraded.
  const warming = Promise.all(
    [...states.values()]
      .filter(() => hostCfg.preload)
      .map(async (st) => {
        const rb = backends.get(st.role)!;
        try {
          // With the role's keep_alive: otherwise Ollama unloads the pre-loaded model after its default 5 min.
          const rc = o.config.roles[st.role]!;
          await rb.primary.warm(st.model, { keepAlive: rc.keep_alive, numCtx: rc.num_ctx });
          log.info({ role: st.role, model: st.model }, "model warm");
        } catch (err) {
          log.warn({ role: st.role, model: st.model, err }, "could not pre-load the model; the role is degraded until it can");
        }
      }),
  ).then(checkHealth);
  const timer = setInterval(() => {
    checkHealth().catch((err: unknown) => log.warn({ err }, "health check failed"));
  }, o.healthIntervalMs ?? 10_000);

  const port = o.metricsPort === undefined ? o.config.metrics?.port : o.metricsPort;
  let server: (Server & { port: number }) | undefined;
  if (port !== undefined && port !== null) server = await serveMetrics(metrics.registry, port);
  log.info({ roles: hostCfg.roles, metricsPort: server?.port }, "agent host serving");

  let stopping: Promise<void> | undefined;
  const stop = (how: "drain" | "close") =>
    (stopping ??= (async () => {
      clearInterval(timer);
      await Promise.all(responders.map((r) => (how === "drain" ? r.drain() : r.close())));
      await warming.catch(() => undefined);
      for (const rb of backends.values()) rb.primary.close?.();
      tools.close();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      log.info("agent host stopped");
    })());
  return {
    host: o.host,
    responders,
    metrics,
    metricsPort: server?.port,
    state: () => [...states.values()].map((s) => ({ ...s })),
    checkHealth,
    drain: () => stop("drain"),
    close: () => stop("close"),
    closed: () => stopping ?? new Promise(() => undefined),
    [Symbol.asyncDispose]: () => stop("close"),
  };
}

function observe(m: AgentMetrics, role: string, e: ResponderEvent): void {
  switch (e.type) {
    case "completed":
      m.requests.inc({ role, code: "200" });
      m.duration.observe({ role }, e.durationMs / 1000);
      if (e.firstChunkMs !== undefined) m.firstToken.observe({ role }, e.firstChunkMs / 1000);
      break;
    case "rejected":
    case "failed":
      m.requests.inc({ role, code: String(e.code) });
      break;
    case "cancelled":
      m.requests.inc({ role, code: "cancelled" });
      break;
    case "accepted":
      break;
  }
}

/** Ollama lists "qwen3:8b" for "qwen3:8b" and "llama3:latest" for "llama3". */
function sameModel(listed: string, wanted: string): boolean {
  return listed === wanted || listed === `${wanted}:latest`;
}
