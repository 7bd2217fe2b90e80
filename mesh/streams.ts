/**
 * The JetStream streams of the mesh, created or updated idempotently at start by every process
 * that needs them (a second `ensureStreams` with the same config changes nothing).
 */
import {
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  DiscardPolicy,
  type Consumer,
  type ConsumerMessages,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { MeshCode, MeshError } from "./errors.ts";
import { subjects } from "./subjects.ts";
import { versionAtLeast, type Mesh } from "./connect.ts";

export const StreamName = {
  Inbox: "LYRA_INBOX",
  Outbox: "LYRA_OUTBOX",
  Log: "LYRA_LOG",
  Dead: "LYRA_DEAD",
} as const;
export type StreamName = (typeof StreamName)[keyof typeof StreamName];

export interface StreamsConfig {
  /** Replicas of every stream; 1 for development, 3 in production. */
  replicas?: number;
  /** "file" (survives restarts, default) or "memory". */
  storage?: "file" | "memory";
  /** How long an unprocessed inbox message is kept, ms; default 24 h. */
  inboxMaxAgeMs?: number;
  /** How long replies are kept in the outbox, ms; default 7 days. */
  outboxMaxAgeMs?: number;
  /** How long conversation events are kept, ms; default 30 days. */
  logMaxAgeMs?: number;
  /** Size cap of the conversation log, bytes; default 1 GiB. */
  logMaxBytes?: number;
  /** De-duplication window; it must cover redeliveries of a turn; default 2 h. */
  duplicateWindowMs?: number;
}

/** The first nats-server with atomic batch publish (ADR-50). */
export const ATOMIC_PUBLISH_SERVER = "2.12.0";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** `atomic`: the server has atomic batch publish (ATOMIC_PUBLISH_SERVER), so the log allows it. */
export function streamConfigs(cfg: StreamsConfig = {}, atomic = true): StreamConfig[] {
  const common = {
    num_replicas: cfg.replicas ?? 1,
    storage: cfg.storage === "memory" ? StorageType.Memory : StorageType.File,
    duplicate_window: nanos(cfg.duplicateWindowMs ?? 2 * HOUR),
    discard: DiscardPolicy.Old,
  };
  const all: Partial<StreamConfig>[] = [
    {
      ...common,
      name: StreamName.Inbox,
      description: "User messages waiting for a conductor (work queue)",
      subjects: [subjects.inboxAll],
      retention: RetentionPolicy.Workqueue,
      // Direct get lets a conductor ask "what is the oldest message of this conversation?".
      allow_direct: true,
      max_age: nanos(cfg.inboxMaxAgeMs ?? DAY),
    },
    {
      ...common,
      name: StreamName.Outbox,
      description: "Final replies, one per turn",
      subjects: [subjects.outboxStored],
      retention: RetentionPolicy.Limits,
      // Direct get reads a conversation's last reply with the subject in the request subject: a
      // front door's permissions confine it to its own channel, and a conductor re-running a turn
      // sees whether its reply is stored already.
      allow_direct: true,
      max_age: nanos(cfg.outboxMaxAgeMs ?? 7 * DAY),
    },
    {
      ...common,
      name: StreamName.Log,
      description: "Conversation events, one per step",
      subjects: [subjects.logAll],
      retention: RetentionPolicy.Limits,
      // Direct get lets a conductor check its cached history against the log's last sequence.
      allow_direct: true,
      // A step's events may go as one atomic batch (a conductor's atomic_log): stored together or not at all.
      ...(atomic ? { allow_atomic: true } : {}),
      max_age: nanos(cfg.logMaxAgeMs ?? 30 * DAY),
      max_bytes: cfg.logMaxBytes ?? 1024 ** 3,
    },
    {
      ...common,
      name: StreamName.Dead,
      description: "Inbox messages given up on, with the reason",
      subjects: [subjects.deadAll],
      retention: RetentionPolicy.Limits,
      max_age: nanos(30 * DAY),
    },
  ];
  // The server refuses a duplicate window longer than the stream's max age.
  for (const sc of all) if (sc.max_age && sc.duplicate_window! > sc.max_age) sc.duplicate_window = sc.max_age;
  return all as StreamConfig[];
}

/** Creates the streams, or updates them to the config. Returns the manager for further use. */
export async function ensureStreams(mesh: Mesh, cfg: StreamsConfig = {}): Promise<JetStreamManager> {
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(mesh.nc);
  } catch (err) {
    throw new MeshError(
      MeshCode.JetStreamUnavailable,
      "JetStream is not enabled on the NATS server: start nats-server with -js (or jetstream {} in its config)",
      { cause: err },
    );
  }
  const version = mesh.nc.info?.version ?? "0.0.0";
  // An older server does not know allow_atomic: it is not sent there, and conductors store events one at a time.
  const atomic = versionAtLeast(version, ATOMIC_PUBLISH_SERVER);
  for (const sc of streamConfigs(cfg, atomic)) {
    const existing = await jsm.streams.info(sc.name).catch(() => null);
    try {
      if (!existing) await jsm.streams.add(sc);
      else if (needsUpdate(existing.config, sc)) {
        // Retention and storage cannot change in place; everything else can.
        const { retention: _r, storage: _s, ...rest } = sc;
        await jsm.streams.update(sc.name, rest);
      }
    } catch (err) {
      throw new MeshError(MeshCode.StreamSetupFailed, `cannot create or update stream ${sc.name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  mesh.log.debug({ streams: Object.values(StreamName) }, "JetStream streams ready");
  return jsm;
}

/** Whether the log stream takes atomic batches (its config as the server reports it). */
export async function logAllowsAtomic(jsm: JetStreamManager): Promise<boolean> {
  const info = await jsm.streams.info(StreamName.Log).catch(() => null);
  return info?.config.allow_atomic === true;
}

function needsUpdate(have: StreamConfig, want: StreamConfig): boolean {
  const keys = [
    ...["allow_direct", "allow_atomic", "subjects", "max_age", "max_bytes"],
    ...["num_replicas", "duplicate_window", "description"],
  ] as (keyof StreamConfig)[];
  return keys.some((k) => JSON.stringify(have[k] ?? null) !== JSON.stringify(want[k] ?? null) && want[k] !== undefined);
}

/**
 * How long one pull request of a durable consumer lives. A pull request lives only on the
 * consumer's leader: when that node dies, the request dies with it, and the client learns of it
 * only by missing the idle heartbeats (half of this, twice). With nats.js's default of 30 s a lost
 * node stalled the consumer for 20-30 s (more under load); at 5 s it is a few seconds.
 */
export const PULL_EXPIRES_MS = 5_000;

/**
 * Messages of a durable consumer (the inbox's, the Discord outbox's) that survive the loss of its
 * leader within seconds: short pulls, and `bind` so that on missed heartbeats nats.js pulls again
 * at once. Without bind it first asks for the consumer's info, which during the consumer's leader
 * election times out (5 s) and is retried after up to `expires` more, round after round: a lost
 * node held the inbox for 10 s and more. Bound, a pull that meets no leader is renewed after the
 * next two missed heartbeats.
 */
export function consumeDurable(consumer: Consumer, maxMessages: number): Promise<ConsumerMessages> {
  return consumer.consume({ max_messages: maxMessages, expires: PULL_EXPIRES_MS, bind: true });
}
