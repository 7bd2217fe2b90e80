/**
 * Capacity-aware dispatch: the caller watches every replica's capacity state (`lyra.state.>`) and
 * sends a call to the best replica of its role directly (`lyra.<role>.<instance>`): a warm model
 * first, then a free slot, then the shortest queue, the last choice between two replicas drawn at
 * random among the equals (power of two choices), so callers do not stampede one replica. State
 * older than STALE_MS, or none, means the shared queue group, which old agents, `nats req` and
 * Agent Protocol clients use as before.
 *
 * Warm-cache affinity: a conversation's next call for a role goes to the replica that answered its
 * previous one, while that replica is fresh, warm, healthy and not overloaded, so Ollama finds the
 * history already in its slot's KV cache (the prompt's prefix is byte-stable across turns).
 * Overloaded (no free slot, and its in-flight work over twice the average of the role's other
 * replicas), the call is placed as above. Affinity is routing only: nothing of one conversation reaches another.
 *
 * Regions: a caller with a region chooses among its own region's replicas (those whose state names
 * that region) while one of them is healthy, and among all of them otherwise (every local replica
 * degraded, stale or gone), so a call crosses a gateway only when it must. Queue groups prefer the
 * local cluster by themselves; these direct calls need the region in the state to do the same.
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

/** Conversations whose last replica per role is remembered (least recently used forgotten first). */
export const AFFINITY_ENTRIES = 10_000;

export interface DispatcherOptions {
  /** The caller's region: replicas of this region are chosen while one is healthy; default none (every region alike). */
  region?: string;
  /** Warm-cache affinity; default true (false: every call is placed by capacity alone). */
  affinity?: boolean;
  /** Remembered (conversation, role) pairs; default AFFINITY_ENTRIES. */
  affinityEntries?: number;
  /**
   * For baselines (the bench): among equally good replicas each call goes to the next in turn,
   * instead of the better of two drawn at random; default false.
   */
  roundRobin?: boolean;
  now?: () => number;
}

export interface Dispatcher {
  /** Where a call to `role` goes now; with a conversation, to the replica that answered its last call when it can. */
  pick(role: string, conversation?: string): Route;
  /** The replica `instance` answered the conversation's call for `role` (from the ack): its next call goes there. */
  served(role: string, conversation: string, instance: string): void;
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

export function createDispatcher(nc: NatsConnection, o: DispatcherOptions = {}): Dispatcher {
  const now = o.now ?? Date.now;
  const byRole = new Map<string, Map<string, Known>>();
  const sticky = o.affinity === false ? undefined : createAffinity(o.affinityEntries ?? AFFINITY_ENTRIES);
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

  const pick = (role: string, conversation?: string): Route => {
    const replicas = byRole.get(role);
    const t = now();
    const fresh: Known[] = [];
    for (const [id, k] of replicas ?? []) {
      if (t - k.at <= STALE_MS) fresh.push(k);
      else if (t - k.at > 60 * STALE_MS) replicas!.delete(id);
    }
    if (fresh.length === 0) return queueGroup(role, replicas?.size ? "replica state stale" : "no replica state");
    const { pool, note } = inRegion(fresh, o.region);
    const last = conversation === undefined ? undefined : sticky?.get(conversation, role);
    const known = last && fresh.find((k) => k.state.instance === last.instance);
    const home = known && pool.includes(known) ? known : undefined;
    const away = known && (home ? leaves(home, pool) : `outside region ${o.region}`);
    if (home && last && !away) return route(role, home, `affinity: served this conversation's turn ${last.turns}`, "");
    // Tiers: healthy before degraded, warm before cold, a free slot before none; lower is better.
    const tier = (k: Known) => (k.state.degraded ? 4 : 0) + (k.state.loaded ? 0 : 2) + (free(k) > 0 ? 0 : 1);
    let best = Infinity;
    for (const k of pool) best = Math.min(best, tier(k));
    const equals = pool.filter((k) => tier(k) === best);
    const chosen = o.roundRobin ? nextOf(role, equals) : twoChoices(equals);
    const overridden = away && chosen !== known ? `, affinity to ${known.state.host} overridden: ${away}` : "";
    return route(role, chosen, `model ${chosen.state.loaded ? "warm" : "cold"}`, ` (best of ${pool.length}${note}${overridden})`);
  };

  const roundRobinNext = new Map<string, number>();
  const nextOf = (role: string, equals: Known[]): Known => {
    const n = roundRobinNext.get(role) ?? 0;
    roundRobinNext.set(role, n + 1);
    return equals.sort((x, y) => (x.state.instance < y.state.instance ? -1 : 1))[n % equals.length]!;
  };

  /** Sends to `k`: "<host>[ (region r)]: <why>, <free> of <slots> slots free[, queued][, degraded]<tail>". */
  const route = (role: string, k: Known, why: string, tail: string): Route => {
    const { state } = k;
    const q = queued(k);
    const where = state.region !== undefined ? ` (region ${state.region})` : "";
    const reason =
      `${state.host}${where}: ${why}, ${free(k)} of ${state.slots} slots free${q > 0 ? `, ${q} queued` : ""}` +
      `${state.degraded ? ", degraded" : ""}${tail}`;
    k.sent++;
    const replicas = byRole.get(role);
    const release = () => {
      const known = replicas?.get(state.instance);
      if (known) known.ended++;
    };
    return { subject: subjects.roleInstance(role, state.instance), reason, instance: state.instance, release };
  };

  return {
    pick,
    served(role, conversation, instance) {
      sticky?.served(conversation, role, instance);
    },
    forget(role, instance) {
      byRole.get(role)?.delete(instance);
    },
    close() {
      if (sub && !nc.isClosed()) sub.unsubscribe();
      sub = undefined;
    },
  };
}

/**
 * The replicas a caller in `region` chooses among: its region's while one of them is healthy (the
 * note then says "in region r"), else all (the note says none there is healthy).
 */
function inRegion(fresh: Known[], region: string | undefined): { pool: Known[]; note: string } {
  if (region === undefined) return { pool: fresh, note: "" };
  const local = fresh.filter((k) => k.state.region === region);
  if (local.some((k) => !k.state.degraded)) return { pool: local, note: ` in region ${region}` };
  return { pool: fresh, note: `, none healthy in region ${region}` };
}

/** The less loaded of two distinct replicas drawn at random (power of two choices). */
function twoChoices(equals: Known[]): Known {
  const i = Math.floor(Math.random() * equals.length);
  const a = equals[i]!;
  if (equals.length === 1) return a;
  const b = equals[(i + 1 + Math.floor(Math.random() * (equals.length - 1))) % equals.length]!;
  return load(b) < load(a) ? b : a;
}

/**
 * Why a conversation leaves the replica that served it (undefined: it stays). It stays while that
 * replica is warm and healthy, and leaves for load when it has no free slot and its work is over
 * twice the average of the role's other replicas. Twice the others' average, not all replicas':
 * with two replicas one can never have twice the average of both. A free slot keeps it: the state
 * lags a call (a replica still counts the conversation's previous call), and a call with a slot
 * starts at once. Freshness is checked by the caller.
 */
function leaves(home: Known, fresh: Known[]): string | undefined {
  if (home.state.degraded) return "degraded";
  if (!home.state.loaded) return "model cold";
  const others = fresh.filter((k) => k !== home);
  if (others.length === 0 || free(home) > 0) return undefined;
  const avg = others.reduce((sum, k) => sum + load(k), 0) / others.length;
  return load(home) > 2 * avg ? `overloaded (${load(home)} in flight, others ${Math.round(avg * 10) / 10} on average)` : undefined;
}

interface Served {
  instance: string;
  /** This role's calls of the conversation answered so far (the turn the last one was). */
  turns: number;
}

/** (conversation, role) → the replica that answered last, bounded: the least recently used pair goes first. */
function createAffinity(max: number) {
  const entries = new Map<string, Served>();
  const key = (conversation: string, role: string) => `${role}\u0000${conversation}`;
  return {
    get(conversation: string, role: string): Served | undefined {
      return entries.get(key(conversation, role));
    },
    served(conversation: string, role: string, instance: string) {
      const k = key(conversation, role);
      const turns = (entries.get(k)?.turns ?? 0) + 1;
      entries.delete(k); // re-inserted last: a Map iterates in insertion order
      entries.set(k, { instance, turns });
      if (entries.size > max) entries.delete(entries.keys().next().value!);
    },
  };
}

/** Running and queued at the replica, as far as this client knows. */
const load = (k: Known) => Math.max(0, k.state.in_flight + k.state.queue_depth + k.sent - k.ended);
const free = (k: Known) => Math.max(0, k.state.slots - load(k));
const queued = (k: Known) => Math.max(0, load(k) - k.state.slots);
