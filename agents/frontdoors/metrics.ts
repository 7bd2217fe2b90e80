/**
 * The front doors' metrics (`lyra discord`, `lyra serve`): one set of names with a `door` label,
 * so one dashboard panel and one alert cover every door.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface FrontdoorMetrics {
  registry: Registry;
  /** Messages, commands and requests taken in, by outcome. */
  requests: Counter<"door" | "outcome">;
  replySeconds: Histogram<"door">;
  rateLimited: Counter<"door">;
  /** Edits of streamed replies (Discord). */
  edits: Counter<"door">;
}

export function createFrontdoorMetrics(): FrontdoorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "lyra_frontdoor_" });
  const r = { registers: [registry] };
  return {
    registry,
    requests: new Counter({
      name: "lyra_frontdoor_requests_total",
      help: "Messages, commands and requests taken in, by outcome",
      labelNames: ["door", "outcome"],
      ...r,
    }),
    replySeconds: new Histogram({
      name: "lyra_frontdoor_reply_seconds",
      help: "From the user's message or request to its complete reply",
      labelNames: ["door"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      ...r,
    }),
    rateLimited: new Counter({
      name: "lyra_frontdoor_rate_limited_total",
      help: "Messages and requests refused or answered 'slow down' by a rate or concurrency limit",
      labelNames: ["door"],
      ...r,
    }),
    edits: new Counter({ name: "lyra_frontdoor_stream_edits_total", help: "Edits of streamed replies", labelNames: ["door"], ...r }),
  };
}
