/**
 * How a served role is found on the mesh: its micro service (endpoints, $SRV stats and status),
 * its heartbeats, its replica's own subject for capacity-aware dispatch, and its capacity state.
 */
import type { Msg } from "@nats-io/nats-core";
import { Header, type ReplicaState } from "../../schemas/index.ts";
import type { Mesh } from "../connect.ts";
import { heartbeatBody, startHeartbeat, type HeartbeatOptions } from "../heartbeat.ts";
import type { Logger } from "../logger.ts";
import { subjects } from "../subjects.ts";
import { addRoleService, PROMPT_ENDPOINT, PROTOCOL_VERSION, promptMetadata, type RequestIn, type RoleIdentity } from "./service.ts";
import { startStateFeed, type StateFeed } from "./statefeed.ts";

/** The heartbeat period (s) when none is given; the spec's recommended default (§8.2). */
export const DEFAULT_HEARTBEAT_S = 30;

export interface RegistrationOptions extends RoleIdentity {
  attachmentsOk: boolean;
  /** Heartbeat period, s; 0 turns heartbeats off. */
  heartbeatS: number;
  /** Capacity state period, ms; 0 turns the state feed off. */
  stateMs: number;
}

/** What the registration reads of the running role, each time it reports. */
export interface RoleLoad {
  readonly inFlight: () => number;
  readonly queueDepth: () => number;
  /** Extra $SRV.STATS data. */
  readonly stats: () => Record<string, unknown>;
  /** The capacity state (`lyra.state.<role>.<instance>`). */
  readonly state: () => Omit<ReplicaState, "role" | "instance" | "ts">;
}

export interface RoleRegistration {
  /** The micro service instance id. */
  readonly id: string;
  /** In-flight work or the queue changed: the capacity state goes out soon. */
  changed(): void;
  /** Stops heartbeats and the state feed and unregisters the endpoints (one round trip): no new work arrives. */
  withdraw(): Promise<void>;
}

export async function registerRole(
  mesh: Mesh,
  o: RegistrationOptions,
  load: RoleLoad,
  onRequest: (msg: RequestIn) => void,
  log: Logger,
): Promise<RoleRegistration> {
  const { role, host, owner, version, description, metadata, maxPayload } = o;
  let serviceId = "";
  // One builder for heartbeats and status replies (§8.7.1): the spec's fields, then Lyra's extras.
  const beatOpts: HeartbeatOptions = {
    owner,
    role,
    get instanceId() {
      return serviceId;
    },
    // With heartbeats off (tests), a status reply still needs a positive interval (§8.3).
    intervalS: o.heartbeatS > 0 ? o.heartbeatS : DEFAULT_HEARTBEAT_S,
    extra: () => ({
      protocol_version: PROTOCOL_VERSION,
      endpoints: {
        [PROMPT_ENDPOINT]: { subject: subjects.agentPrompt(owner, role), metadata: promptMetadata(o.maxPayload, o.attachmentsOk) },
      },
      role,
      host,
      in_flight: load.inFlight(),
      queue_depth: load.queueDepth(),
    }),
  };
  const service = await addRoleService(mesh.nc, {
    role,
    host,
    owner,
    version,
    description,
    metadata,
    maxPayload,
    attachments: o.attachmentsOk,
    status: () => heartbeatBody(beatOpts),
    stats: () => ({ in_flight: load.inFlight(), queue_depth: load.queueDepth(), role, host, ...load.stats() }),
    handler: (err, msg) => {
      if (err) log.error({ err }, "role endpoint failed");
      else onRequest(msg);
    },
  });
  serviceId = service.info().id;
  // After registration, so a watcher that discovers from a beat finds the metadata (§8.2).
  const heartbeat = o.heartbeatS > 0 ? startHeartbeat(mesh, beatOpts) : undefined;
  // Capacity-aware dispatch: this replica's own subject (no queue group: it alone listens), and
  // its state, from which callers choose it.
  const directSub = mesh.nc.subscribe(subjects.roleInstance(role, serviceId), {
    callback: (err, m) => {
      if (!err) onRequest(directRequest(m));
    },
  });
  const feed: StateFeed | undefined = o.stateMs > 0 ? startStateFeed(mesh, role, serviceId, o.stateMs, load.state) : undefined;
  return {
    id: serviceId,
    changed: () => feed?.changed(),
    async withdraw() {
      await heartbeat?.close();
      await feed?.close();
      if (!mesh.nc.isClosed()) directSub.unsubscribe();
      await service.stop().catch(() => null);
    },
  };
}

/** A message on the replica's own subject, given the micro ServiceMsg shape the endpoints deliver. */
function directRequest(m: Msg): RequestIn {
  return {
    data: m.data,
    headers: m.headers,
    reply: m.reply,
    respond: (data, o) => m.respond(data, o),
    respondError: (code, description, data, o) => {
      o.headers.set(Header.ErrorCode, String(code));
      o.headers.set(Header.Error, description);
      return m.respond(data, o);
    },
  };
}
