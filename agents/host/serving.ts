/** The agent host's responders: one per role placed on the host, each with its handler and metrics. */
import type { MeshConfig } from "../../schemas/index.ts";
import {
  costOf,
  type Logger,
  type Mesh,
  type PriceTable,
  serveRole,
  type ResponderEvent,
  type RoleHandler,
  type RoleResponder,
} from "../../mesh/index.ts";
import { createEmbedder } from "../../tools/caller.ts";
import type { FinalModelChunk } from "../backends/index.ts";
import type { RoleBackend } from "./backends.ts";
import { hostRouterClassifier } from "./classifier.ts";
import { roleHandler } from "./handler.ts";
import type { RoleState } from "./health.ts";
import type { MediaAccess } from "./media.ts";
import type { AgentMetrics } from "./metrics.ts";
import { cachedHandler, promptShaping } from "./respcache.ts";
import type { ResponseCacheStore } from "./respcache-store.ts";
import type { SpecialistInfo } from "./specialists.ts";
import type { ToolPlane } from "./tools.ts";

export interface ServingOptions {
  config: MeshConfig;
  host: string;
  mesh: Mesh;
  backends: Map<string, RoleBackend>;
  states: Map<string, RoleState>;
  metrics: AgentMetrics;
  tools: ToolPlane;
  media: MediaAccess;
  specialists: SpecialistInfo[];
  defaultSpecialist: string | undefined;
  /** The host's Ollama: a router's classifier embeds with it. */
  ollamaUrl: string;
  log: Logger;
  keepAliveMs?: number;
  heartbeatIntervalS?: number;
  stateIntervalMs?: number;
  /** The mesh's response cache bucket, when a role of the host has roles.<role>.cache. */
  responseCache?: ResponseCacheStore;
  /** The host's region (hosts.<host>.region, else mesh.region), in its replicas' capacity state. */
  region?: string;
}

/** Serves one role of the host on the mesh. */
export async function serveHostRole(o: ServingOptions, role: string): Promise<RoleResponder> {
  const rc = o.config.roles[role]!;
  const rb = o.backends.get(role)!;
  const st = o.states.get(role)!;
  const { metrics } = o;
  return serveRole(o.mesh, {
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
    region: o.region,
    handler: withCache(
      o,
      role,
      roleHandler({
        role,
        host: o.host,
        config: rc,
        backend: rb.backend,
        specialists: o.specialists,
        defaultSpecialist: o.defaultSpecialist,
        classifier: rc.classifier ? hostRouterClassifier(role, rc.classifier, o.ollamaUrl, o.log) : undefined,
        tools: o.tools,
        media: o.media,
        variantBackends: rb.variants,
        autoRecall: o.config.memory?.auto_recall ? { server: o.config.memory.server, topK: o.config.memory.top_k } : undefined,
        onToolResult: (r) => {
          metrics.toolCalls.inc({ role, server: r.server, tool: r.tool, outcome: r.status });
          metrics.toolDuration.observe({ role, server: r.server, tool: r.tool }, r.latencyMs / 1000);
        },
        onFinal: (f) => observeFinal(metrics, role, st, f, o.config.usage.prices),
      }),
    ),
  });
}

/** The role's handler behind its response cache, when it has one. */
function withCache(o: ServingOptions, role: string, handler: RoleHandler): RoleHandler {
  const rc = o.config.roles[role]!;
  if (!rc.cache || !o.responseCache) return handler;
  const sem = rc.cache.semantic;
  const embedder = sem
    ? createEmbedder({
        host: o.ollamaUrl,
        model: sem.embed_model,
        timeoutMs: sem.embed_timeout_ms,
        setting: `roles.${role}.cache.semantic.embed_model`,
      })
    : undefined;
  return cachedHandler(handler, {
    role,
    host: o.host,
    config: rc.cache,
    // The router's menu is part of its prompt.
    salt: { role: promptShaping(rc), specialists: rc.kind === "router" ? o.specialists : undefined },
    store: o.responseCache,
    embedder,
    log: o.log,
    onLookup: (kind, result) => o.metrics.cacheLookups.inc({ role, kind, result }),
  });
}

/** A final chunk's tokens and speed; a model that answered is loaded. */
function observeFinal(m: AgentMetrics, role: string, st: RoleState, f: FinalModelChunk, prices: PriceTable): void {
  // A model that answered is loaded (not the fallback's); the health check (Ollama /api/ps) notices unloads.
  if (!f.fallback) st.loaded = true;
  const labels = { role, model: f.model, backend: f.backend };
  m.tokens.inc({ role, kind: "prompt", model: f.model, backend: f.backend }, f.usage.prompt_tokens);
  m.tokens.inc({ role, kind: "completion", model: f.model, backend: f.backend }, f.usage.completion_tokens);
  const cost = costOf(prices, f.model, f.usage.prompt_tokens, f.usage.completion_tokens);
  if (cost !== undefined) m.cost.inc(labels, cost);
  const genMs = f.timings.total_ms - (f.timings.first_token_ms ?? 0);
  if (f.usage.completion_tokens > 0 && genMs > 0)
    m.tokensPerSecond.observe({ role, backend: f.backend }, (f.usage.completion_tokens * 1000) / genMs);
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
