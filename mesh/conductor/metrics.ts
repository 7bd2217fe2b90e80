/** Prometheus metrics of the conductor (`lyra core`), served on /metrics like the agent's. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { DeadLetterCause, type ConductorEvent } from "./types.ts";

export interface CoreMetrics {
  registry: Registry;
  /** For ConductorOptions.onEvent. */
  onEvent: (e: ConductorEvent) => void;
  /** For ConductorOptions.onTurn. */
  onTurn: (t: { ok: boolean; ms: number }) => void;
}

/** What is read at scrape time: turns running here and the inbox consumer's backlog. */
export interface CoreLive {
  inFlight(): number;
  backlog(): Promise<{ pending: number; ackPending: number }>;
}

const TURN_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

export function createCoreMetrics(live?: () => CoreLive | undefined): CoreMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "lyra_core_" });
  const r = { registers: [registry] };
  const turns = new Counter({
    name: "lyra_turns_total",
    help: "Turns handled, by outcome (ok; retry: failed, the message is redelivered)",
    labelNames: ["outcome"],
    ...r,
  });
  const turnSeconds = new Histogram({ name: "lyra_turn_duration_seconds", help: "Inbox to stored reply", buckets: TURN_BUCKETS, ...r });
  const stageSeconds = new Histogram({
    name: "lyra_turn_stage_duration_seconds",
    help: "One committee step (router, specialist, voice) as the conductor saw it, by outcome",
    labelNames: ["stage", "role", "outcome"],
    buckets: TURN_BUCKETS,
    ...r,
  });
  const lag = new Histogram({
    name: "lyra_inbox_lag_seconds",
    help: "Time from a message being stored in the inbox to its first delivery to a conductor",
    buckets: LAG_BUCKETS,
    ...r,
  });
  const redeliveries = new Counter({
    name: "lyra_inbox_redeliveries_total",
    help: "Inbox messages delivered again (a failed or abandoned turn, a conductor that died)",
    ...r,
  });
  const dead = new Counter({
    name: "lyra_dead_letters_total",
    help:
      "Inbox messages given up on and stored in the dead-letter stream, by cause (undecodable, max_deliver, " +
      "subject_mismatch, foreign_conversation)",
    labelNames: ["cause"],
    ...r,
  });
  const fallbacks = new Counter({
    name: "lyra_committee_fallbacks_total",
    help: "Committee steps answered by the role's fallback because no agent serves the role",
    labelNames: ["role"],
    ...r,
  });
  const variantCalls = new Counter({
    name: "lyra_variant_calls_total",
    help: "Calls of roles with variants (rollout and A/B), by role, the conversation's variant and outcome (ok, error)",
    labelNames: ["role", "variant", "outcome"],
    ...r,
  });
  const shadows = new Counter({
    name: "lyra_shadow_answers_total",
    help: "Shadow variants' answers, by role, variant and outcome (logged, failed, skipped: the shadow limit was reached)",
    labelNames: ["role", "variant", "outcome"],
    ...r,
  });
  new Gauge({
    name: "lyra_turns_in_flight",
    help: "Turns running in this conductor now",
    collect() {
      const l = live?.();
      if (l) this.set(l.inFlight());
    },
    ...r,
  });
  new Gauge({
    name: "lyra_inbox_backlog",
    help: "Inbox messages of the shared consumer: pending (not yet delivered) and ack_pending (being worked on)",
    labelNames: ["state"],
    async collect() {
      const l = live?.();
      if (!l) return;
      const b = await l.backlog().catch(() => undefined);
      if (!b) return;
      this.set({ state: "pending" }, b.pending);
      this.set({ state: "ack_pending" }, b.ackPending);
    },
    ...r,
  });
  // Zero series up front, so rates and alerts see the label sets before the first event.
  turns.inc({ outcome: "ok" }, 0);
  turns.inc({ outcome: "retry" }, 0);
  for (const cause of Object.values(DeadLetterCause)) dead.inc({ cause }, 0);
  return {
    registry,
    onEvent: (e) => {
      if (e.type === "received") {
        if (e.deliveries > 1) redeliveries.inc();
        else lag.observe(e.lagMs / 1000);
      } else if (e.type === "step") stageSeconds.observe({ stage: e.step, role: e.role, outcome: e.ok ? "ok" : "error" }, e.ms / 1000);
      else if (e.type === "fallback") fallbacks.inc({ role: e.role });
      else if (e.type === "variant") variantCalls.inc({ role: e.role, variant: e.variant, outcome: e.ok ? "ok" : "error" });
      else if (e.type === "shadow") shadows.inc({ role: e.role, variant: e.variant, outcome: e.outcome });
      else dead.inc({ cause: e.cause });
    },
    onTurn: (t) => {
      turns.inc({ outcome: t.ok ? "ok" : "retry" });
      turnSeconds.observe(t.ms / 1000);
    },
  };
}
