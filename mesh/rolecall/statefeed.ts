/**
 * A replica's capacity state on `lyra.state.<role>.<instance>` (JSON, schemas/state.ts): sent at
 * every period (500 ms by default) and, between periods, shortly after a change (admission or
 * completion), coalesced so a busy replica sends at most one change every CHANGE_GAP_MS.
 */
import type { ReplicaState } from "../../schemas/index.ts";
import type { Mesh } from "../connect.ts";
import { lifecycle, type Closable } from "../lifecycle.ts";
import { subjects } from "../subjects.ts";

/** Changes within this window go out as one state message. */
export const CHANGE_GAP_MS = 20;

/** close() sends the state now (a stopping replica says it is degraded) and stops. */
export interface StateFeed extends Closable {
  /** Something changed: send the state soon. */
  changed(): void;
}

export function startStateFeed(
  mesh: Mesh,
  role: string,
  instance: string,
  intervalMs: number,
  snapshot: () => Omit<ReplicaState, "role" | "instance" | "ts">,
): StateFeed {
  const subject = subjects.roleState(role, instance);
  let stopped = false;
  let soon: NodeJS.Timeout | undefined;
  let lastSent = 0;
  const send = () => {
    soon = undefined;
    if (stopped || mesh.nc.isClosed()) return;
    lastSent = Date.now();
    try {
      mesh.nc.publish(subject, JSON.stringify({ role, instance, ...snapshot(), ts: lastSent } satisfies ReplicaState));
    } catch (err) {
      mesh.log.debug({ err, subject }, "capacity state not sent"); // draining; the next period tries again
    }
  };
  send();
  const timer = setInterval(() => {
    if (Date.now() - lastSent >= intervalMs * 0.8) send();
  }, intervalMs);
  const {
    close,
    closed,
    [Symbol.asyncDispose]: dispose,
  } = lifecycle({
    close: () => {
      send();
      stopped = true;
      clearInterval(timer);
      if (soon) clearTimeout(soon);
    },
  });
  return {
    changed() {
      if (stopped || soon) return;
      soon = setTimeout(send, Math.max(0, CHANGE_GAP_MS - (Date.now() - lastSent)));
    },
    close,
    closed,
    [Symbol.asyncDispose]: dispose,
  };
}
