/**
 * Liveness beacons on `agents.hb.lyra.<owner>.<role>` with the NATS Agent Protocol 0.3 payload
 * (§8.3), so a watcher can tell a silent role from a dead one without asking it anything. The
 * status endpoint (§8.7) answers with the same builder, so the two never disagree.
 */
import type { Mesh } from "./connect.ts";
import { lifecycle, type Closable } from "./lifecycle.ts";
import { AGENT, subjects } from "./subjects.ts";

export interface HeartbeatOptions {
  owner: string;
  role: string;
  /** The micro service instance id of the sender. */
  instanceId: string;
  /** Period, s; must be > 0. */
  intervalS: number;
  /** Extra fields added to each beat (in-flight, queue depth...); keep it cheap. */
  extra?: () => object;
}

/** The body of a heartbeat (and of a status reply). */
export interface HeartbeatBody {
  agent: typeof AGENT;
  owner: string;
  /** The role: Lyra's roles are session-less, but the label lets a tracker name them without a lookup. */
  session: string;
  instance_id: string;
  /** ISO 8601, UTC. */
  ts: string;
  interval_s: number;
  [extra: string]: unknown;
}

/** close() stops beating (at once: the timer is cleared before close() returns its promise). */
export type Heartbeat = Closable;

/** A fresh heartbeat body; Lyra's extras first, so they can never overwrite a spec field. */
export function heartbeatBody(opts: HeartbeatOptions): HeartbeatBody {
  return {
    ...opts.extra?.(),
    agent: AGENT,
    owner: opts.owner,
    session: opts.role,
    instance_id: opts.instanceId,
    ts: new Date().toISOString(),
    interval_s: opts.intervalS,
  };
}

/** Publishes a beat now and every `intervalS` until stopped. */
export function startHeartbeat(mesh: Mesh, opts: HeartbeatOptions): Heartbeat {
  const subject = subjects.heartbeat(opts.owner, opts.role);
  const beat = () => {
    if (mesh.nc.isClosed()) return;
    try {
      mesh.nc.publish(subject, JSON.stringify(heartbeatBody(opts)));
    } catch (err) {
      // A draining connection refuses publishes (or an extra() threw); the next beat tries again.
      mesh.log.debug({ err, subject }, "heartbeat not sent");
    }
  };
  beat();
  let timer: NodeJS.Timeout | undefined = setInterval(beat, opts.intervalS * 1000);
  const {
    close,
    closed,
    [Symbol.asyncDispose]: dispose,
  } = lifecycle({
    close: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  });
  return { close, closed, [Symbol.asyncDispose]: dispose };
}
