/** The Discord adapter's label and outcomes for the front-door metrics (agents/frontdoors/metrics.ts). */
export { createFrontdoorMetrics, type FrontdoorMetrics } from "../metrics.ts";

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
