/** Prometheus metrics of an agent host, served on /metrics. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface AgentMetrics {
  registry: Registry;
  requests: Counter<"role" | "code">;
  duration: Histogram<"role">;
  firstToken: Histogram<"role">;
  tokensPerSecond: Histogram<"role" | "backend">;
  tokens: Counter<"role" | "kind" | "model" | "backend">;
  /** USD of answers whose model has a price (usage.prices); a model without one adds nothing. */
  cost: Counter<"role" | "model" | "backend">;
  fallbacks: Counter<"role" | "reason">;
  inFlight: Gauge<"role">;
  queueDepth: Gauge<"role">;
  degraded: Gauge<"role">;
  toolCalls: Counter<"role" | "server" | "tool" | "outcome">;
  toolDuration: Histogram<"role" | "server" | "tool">;
  cacheLookups: Counter<"role" | "kind" | "result">;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** `live` is read at scrape time for the in-flight and queue gauges. */
export function createAgentMetrics(live: () => { role: string; inFlight: number; queueDepth: number }[] = () => []): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "lyra_agent_" });
  const r = { registers: [registry] };
  return {
    registry,
    requests: new Counter({
      name: "lyra_role_requests_total",
      help: "Role requests by outcome code (200 = answered)",
      labelNames: ["role", "code"],
      ...r,
    }),
    duration: new Histogram({
      name: "lyra_role_request_duration_seconds",
      help: "Time from admission to the last chunk",
      labelNames: ["role"],
      buckets: LATENCY_BUCKETS,
      ...r,
    }),
    firstToken: new Histogram({
      name: "lyra_role_time_to_first_token_seconds",
      help: "Time from admission to the first content chunk",
      labelNames: ["role"],
      buckets: LATENCY_BUCKETS,
      ...r,
    }),
    tokensPerSecond: new Histogram({
      name: "lyra_role_tokens_per_second",
      help: "Generation speed of each answer",
      labelNames: ["role", "backend"],
      buckets: [1, 5, 10, 20, 40, 80, 160, 320, 1000],
      ...r,
    }),
    // No user label: users are unbounded (Discord ids, serve tenants' users); `lyra usage --by user` reads them from the log.
    tokens: new Counter({
      name: "lyra_role_tokens_total",
      help: "Tokens processed (kind prompt = in, completion = out), as the backend reported them",
      labelNames: ["role", "kind", "model", "backend"],
      ...r,
    }),
    cost: new Counter({
      name: "lyra_role_cost_usd_total",
      help: "Cost of the answers in USD, from usage.prices (models without a price are not counted)",
      labelNames: ["role", "model", "backend"],
      ...r,
    }),
    fallbacks: new Counter({
      name: "lyra_role_fallbacks_total",
      help: "Answers given by the fallback backend, by reason",
      labelNames: ["role", "reason"],
      ...r,
    }),
    inFlight: new Gauge({
      name: "lyra_role_in_flight",
      help: "Requests running now",
      labelNames: ["role"],
      collect() {
        for (const l of live()) this.set({ role: l.role }, l.inFlight);
      },
      ...r,
    }),
    queueDepth: new Gauge({
      name: "lyra_role_queue_depth",
      help: "Requests waiting for a slot",
      labelNames: ["role"],
      collect() {
        for (const l of live()) this.set({ role: l.role }, l.queueDepth);
      },
      ...r,
    }),
    degraded: new Gauge({ name: "lyra_role_degraded", help: "1 when the role's primary backend is unhealthy", labelNames: ["role"], ...r }),
    toolCalls: new Counter({
      name: "lyra_tool_calls_total",
      help: "Mesh tool calls made by a role's tool loop, by outcome (ok, error, timeout, refused, unknown, unavailable, cancelled)",
      labelNames: ["role", "server", "tool", "outcome"],
      ...r,
    }),
    toolDuration: new Histogram({
      name: "lyra_tool_call_duration_seconds",
      help: "Time from a tool call to its result, as the role saw it",
      labelNames: ["role", "server", "tool"],
      buckets: LATENCY_BUCKETS,
      ...r,
    }),
    cacheLookups: new Counter({
      name: "lyra_role_cache_lookups_total",
      help: "Response cache lookups of a role by kind (exact, semantic) and result (hit, miss, bypass)",
      labelNames: ["role", "kind", "result"],
      ...r,
    }),
  };
}
