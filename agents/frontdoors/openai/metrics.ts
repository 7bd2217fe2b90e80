/** Front-door metrics of `lyra serve` (names shared with the Discord adapter: door="openai"). */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const DOOR = "openai";

export interface ServeMetrics {
  registry: Registry;
  /** outcome: ok, bad_request, unauthorized, not_found, too_large, rate_limited, unavailable, error, cancelled. */
  requests: Counter<"door" | "outcome">;
  replySeconds: Histogram<"door">;
  rateLimited: Counter<"door">;
}

export function createServeMetrics(): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "lyra_serve_" });
  const r = { registers: [registry] };
  return {
    registry,
    requests: new Counter({ name: "lyra_frontdoor_requests_total", help: "Requests to the front door, by outcome", labelNames: ["door", "outcome"], ...r }),
    replySeconds: new Histogram({
      name: "lyra_frontdoor_reply_seconds",
      help: "Time from a request to its complete reply",
      labelNames: ["door"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      ...r,
    }),
    rateLimited: new Counter({ name: "lyra_frontdoor_rate_limited_total", help: "Requests refused by the per-key rate limit", labelNames: ["door"], ...r }),
  };
}

/** The outcome label for an HTTP status. */
export function outcomeOf(status: number): string {
  const m: Record<number, string> = { 200: "ok", 400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "bad_request", 413: "too_large", 429: "rate_limited", 503: "unavailable" };
  return m[status] ?? "error";
}
