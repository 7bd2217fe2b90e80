/**
 * Capacity-aware dispatch: the caller watches every replica's capacity state (`lyra.state.>`) and
 * sends a call to the best replica of its role directly (`lyra.<role>.<instance>`): a warm model
 * first, then a free slot, then the shortest queue, the last choice between two replicas drawn at
 * random among the equals (power of two choices), so callers do not stampede one replica. State
 * older than STALE_MS, or none, means the shared queue group, which old agents, `nats req` and
 * Agent Protocol clients use as before.
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { ReplicaState } from "../../schemas/index.ts";
import { subjects } from "../subjects.ts";

/** A replica whose last state is older than this is not chosen. */
export const STALE_MS = 1000;

export interface Route {
  subject: string;
  /** "gpu-2: model warm, 1 of 2 slots free", or "queue group: …". */
  reason: string;
  /** The chosen replica; undefined for the queue group. */
  instance?: string;
  /** Call when the call sent this way has ended (its slot is free again). */
  release?: () => void;
}

export interface Dispatcher {
  /** Where a call to `role` goes now. */
  pick(role: string): Route;
  /** The replica failed a call (no responders, presumed dead): not chosen until it sends state again. */
  forget(role: string, instance: string): void;
  close(): void;
}

interface Known {
  state: ReplicaState;
  at: number;
  /**
   * This client's calls to the replica since its last state: sent ones add to its in-flight count
   * (so a burst spreads), ended ones take from it (its next state will say so).
   */
  sent: number;
  ended: number;
}

export function queueGroup(role: string, why: string): Route {
  return { subject: subjects.role(role), reason: `queue group: ${why}` };
}

export function createDispatcher(nc: NatsConnection, now: () => number = Date.now): Dispatcher {
  const byRole = new Map<string, Map<string, Known>>();
  let sub: Subscription | undefined = nc.subscribe(subjects.roleStateAll, {
    callback: (err, m) => {
      if (err) return;
      let state: ReplicaState;
      try {
        state = ReplicaState.parse(m.json());
      } catch {
        return; // not a capacity state this client understands: that replica gets the queue group
      }
      let replicas = byRole.get(state.role);
      if (!replicas) byRole.set(state.role, (replicas = new Map<string, Known>()));
      replicas.set(state.instance, { state, at: now(), sent: 0, ended: 0 });
    },
  });

  const pick = (role: string): Route => {
    const replicas = byRole.get(role);
    const t = now();
    const fresh: Known[] = [];
    for (const [id, k] of replicas ?? []) {
      if (t - k.at <= STALE_MS) fresh.push(k);
      else if (t - k.at > 60 * STALE_MS) replicas!.delete(id);
    }
    if (fresh.length === 0) return queueGroup(role, replicas?.size ? "replica state stale" : "no replica state");
    // Tiers: healthy before degraded, warm before cold, a free slot before none; lower is better.
    const tier = (k: Known) => (k.state.degraded ? 4 : 0) + (k.state.loaded ? 0 : 2) + (free(k) > 0 ? 0 : 1);
    let best = Infinity;
    for (const k of fresh) best = Math.min(best, tier(k));
    const equals = fresh.filter((k) => tier(k) === best);
    const a = equals[Math.floor(Math.random() * equals.length)]!;
    const b = equals[Math.floor(Math.random() * equals.length)]!;
    const chosen = load(b) < load(a) ? b : a;
    const { state } = chosen;
    const q = queued(chosen);
    const reason =
      `${state.host}: model ${state.loaded ? "warm" : "cold"}, ${free(chosen)} of ${state.slots} slots ` +
      `free${q > 0 ? `, ${q} queued` : ""}${state.degraded ? ", degraded" : ""} (best of ${fresh.length})`;
    chosen.sent++;
    const release = () => {
      const k = replicas!.get(state.instance);
      if (k) k.ended++;
    };
    return { subject: subjects.roleInstance(role, state.instance), reason, instance: state.instance, release };
  };

  return {
    pick,
    forget(role, instance) {
      byRole.get(role)?.delete(instance);
    },
    close() {
      if (sub && !nc.isClosed()) sub.unsubscribe();
      sub = undefined;
    },
  };
}

/** Running and queued at the replica, as far as this client knows. */
const load = (k: Known) => Math.max(0, k.state.in_flight + k.state.queue_depth + k.sent - k.ended);
const free = (k: Known) => Math.max(0, k.state.slots - load(k));
const queued = (k: Known) => Math.max(0, load(k) - k.state.slots);
