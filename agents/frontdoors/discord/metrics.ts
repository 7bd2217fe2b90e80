/** The front-door metrics of the Discord adapter (names shared with `lyra serve`: door="discord"). */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const DOOR = "discord";

/** Outcomes of one incoming message or command. */
export const Outcome = {
  Answered: "answered",
  Failed: "failed",
  Invalid: "invalid",
  Duplicate: "duplicate",
  RateLimited: "rate_limited",
  Busy: "busy",
  Command: "command",
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface FrontdoorMetrics {
  registry: Registry;
  requests: Counter<"door" | "outcome">;
  replySeconds: Histogram<"door">;
  rateLimited: Counter<"door">;
  edits: Counter<"door">;
}

export function createFrontdoorMetrics(): FrontdoorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "lyra_frontdoor_" });
  const r = { registers: [registry] };
  return {
    registry,
    requests: new Counter({ name: "lyra_frontdoor_requests_total", help: "Messages and commands taken in, by outcome", labelNames: ["door", "outcome"], ...r }),
    replySeconds: new Histogram({
      name: "lyra_frontdoor_reply_seconds",
      help: "From the user's message to the final reply posted",
      labelNames: ["door"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      ...r,
    }),
    rateLimited: new Counter({ name: "lyra_frontdoor_rate_limited_total", help: "Messages answered with 'slow down' (user rate or channel concurrency)", labelNames: ["door"], ...r }),
    edits: new Counter({ name: "lyra_frontdoor_stream_edits_total", help: "Edits of streamed replies", labelNames: ["door"], ...r }),
  };
}
