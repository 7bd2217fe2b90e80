/**
 * Liveness beacons on `agents.lyra.<owner>.<role>.heartbeat`, with the NATS Agent Protocol's
 * fields, so a watcher can tell a silent role from a dead one without asking it anything.
 */
import type { Mesh } from "./connect.ts";
import { subjects } from "./subjects.ts";

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

/** The body of a heartbeat. */
export interface HeartbeatBody {
  agent: "lyra";
  owner: string;
  session: string;
  instance_id: string;
  /** ISO 8601, UTC. */
  ts: string;
  interval_s: number;
  [extra: string]: unknown;
}

export interface Heartbeat extends Disposable {
  /** Stops beating; safe to call twice. */
  stop(): void;
}

/** Publishes a beat now and every `intervalS` until stopped. */
export function startHeartbeat(mesh: Mesh, opts: HeartbeatOptions): Heartbeat {
  const subject = subjects.heartbeat(opts.owner, opts.role);
  const beat = () => {
    if (mesh.nc.isClosed()) return;
    const body: HeartbeatBody = {
      agent: "lyra",
      owner: opts.owner,
      session: opts.role,
      instance_id: opts.instanceId,
      ts: new Date().toISOString(),
      interval_s: opts.intervalS,
      ...opts.extra?.(),
    };
    try {
      mesh.nc.publish(subject, JSON.stringify(body));
    } catch (err) {
      // A draining connection refuses publishes; the next beat (if any) tries again.
      mesh.log.debug({ err, subject }, "heartbeat not sent");
    }
  };
  beat();
  let timer: NodeJS.Timeout | undefined = setInterval(beat, opts.intervalS * 1000);
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return { stop, [Symbol.dispose]: stop };
}
