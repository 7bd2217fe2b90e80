/**
 * Readiness (/readyz), apart from liveness (/healthz): whether a process should get work now. Not
 * ready while its NATS connection is down, a backend it serves with is unhealthy, or it drains;
 * the reasons go in the 503's JSON body, so an operator's `curl` says why.
 */
import type { NatsConnection } from "@nats-io/nats-core";

/** The reasons a process is not ready now; empty when it is. */
export type ReadinessCheck = () => string[];

/** The /readyz body. */
export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** Runs every check; ready when none gives a reason. */
export function readinessOf(checks: readonly ReadinessCheck[]): Readiness {
  const reasons = checks.flatMap((c) => c());
  return { ready: reasons.length === 0, reasons };
}

/**
 * Tracks the connection's state from its status events (a listener of its own): a reason while
 * it is disconnected (between 'disconnect' and 'reconnect'), draining or closed. The watch ends
 * when the connection closes.
 */
export function natsReadiness(nc: NatsConnection): ReadinessCheck {
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") up = false;
      else if (s.type === "reconnect") up = true;
    }
  })().catch(() => undefined);
  return () =>
    nc.isClosed()
      ? ["NATS connection closed"]
      : nc.isDraining()
        ? ["NATS connection draining"]
        : up
          ? []
          : ["NATS disconnected (reconnecting)"];
}
