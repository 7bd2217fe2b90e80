/**
 * The JetStream API subjects a user may publish, by what its process does with a stream, a
 * consumer or a bucket. Subject permissions match whole tokens and a consumer name is one token,
 * so a consumer cannot be granted by a name prefix: a durable is granted by its exact name (and
 * denied to everyone else, see `protectDurable`); the short-lived consumers nats.js names at
 * random are granted by the filter in their create subject, which the server checks against the
 * request body. Nobody gets stream delete or purge of a mesh stream: the operator does those.
 */

const API = "$JS.API";

/** Account info: every `jetstreamManager()` asks it first. */
export const JS_INFO = `${API}.INFO`;

/** Create and update a stream, and read its info (the conductor, for the mesh's streams). */
export const streamAdmin = (stream: string): string[] => ["INFO", "CREATE", "UPDATE"].map((op) => `${API}.STREAM.${op}.${stream}`);

/**
 * A durable consumer its process owns: create or update it (only with `filter` when given), read
 * its info, pull, and ack (nak and term are acks too). No delete: a durable outlives its process.
 */
/** Reading one consumer's info (a front door checks that a conductor consumes the inbox). */
export function consumerInfo(stream: string, name: string): string {
  return `${API}.CONSUMER.INFO.${stream}.${name}`;
}

export function durableConsumer(stream: string, name: string, filter?: string): string[] {
  const create = filter
    ? [`${API}.CONSUMER.CREATE.${stream}.${name}.${filter}`]
    : [
        `${API}.CONSUMER.CREATE.${stream}.${name}`,
        `${API}.CONSUMER.CREATE.${stream}.${name}.>`,
        `${API}.CONSUMER.DURABLE.CREATE.${stream}.${name}`,
      ];
  return [...create, consumerInfo(stream, name), `${API}.CONSUMER.MSG.NEXT.${stream}.${name}`, `$JS.ACK.${stream}.${name}.>`];
}

/**
 * What a user whose grants name any consumer of `stream` (`orderedReads`, `objectRead`) must not
 * do to the durable `name` of another process: info, create over it (an update, e.g. of its
 * filter), pull, ack, delete, pause. Empty when its grants reach no consumer of that stream.
 */
export function protectDurable(grants: readonly string[], stream: string, name: string): string[] {
  if (!grants.some((g) => g.startsWith(`${API}.CONSUMER.`) && g.includes(`.${stream}.*`))) return [];
  return [
    `${API}.CONSUMER.*.${stream}.${name}`,
    `${API}.CONSUMER.*.${stream}.${name}.>`,
    `${API}.CONSUMER.*.*.${stream}.${name}`,
    `$JS.ACK.${stream}.${name}.>`,
  ];
}

/**
 * Ordered consumers (nats.js: random names, no acks) that read only inside `filter`: the stream's
 * info (nats.js checks it first), created with the filter in the subject, pulled, checked after a
 * missed heartbeat, and deleted when done.
 */
export function orderedReads(stream: string, filter: string): string[] {
  return [
    `${API}.STREAM.INFO.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.*.${filter}`,
    ...["INFO", "MSG.NEXT", "DELETE"].map((op) => `${API}.CONSUMER.${op}.${stream}.*`),
  ];
}

/**
 * Direct gets of the last message of a subject inside `subject`: that form puts the subject in the
 * request subject, so the permission scopes it (the stream needs allow_direct).
 */
export const directGetLast = (stream: string, subject: string): string => `${API}.DIRECT.GET.${stream}.${subject}`;

/** Direct gets of any kind (by sequence, next by subject): the body says what, so the whole stream. */
export const directGetAny = (stream: string): string[] => [`${API}.DIRECT.GET.${stream}`, directGetLast(stream, ">")];

const objStream = (bucket: string) => `OBJ_${bucket}`;

/**
 * Read objects: open the bucket, look an object up (nats.js asks STREAM.MSG.GET), and fetch its
 * chunks through an ordered push consumer, answering its flow control (without that a read of more
 * than a few MiB stalls).
 */
export function objectRead(bucket: string): string[] {
  const s = objStream(bucket);
  return [
    `${API}.STREAM.INFO.${s}`,
    `${API}.STREAM.MSG.GET.${s}`,
    `${API}.CONSUMER.CREATE.${s}.*.$O.${bucket}.C.*`,
    `${API}.CONSUMER.INFO.${s}.*`,
    `${API}.CONSUMER.DELETE.${s}.*`,
    `$JS.FC.${s}.>`,
  ];
}

/**
 * Store objects: create the bucket when missing, look an object up, write its chunks and its meta
 * record. No purge: a put that fails leaves its chunks to expire with the bucket's max age.
 */
export function objectWrite(bucket: string): string[] {
  const s = objStream(bucket);
  return [`${API}.STREAM.INFO.${s}`, `${API}.STREAM.CREATE.${s}`, `${API}.STREAM.MSG.GET.${s}`, `$O.${bucket}.C.*`, `$O.${bucket}.M.*`];
}

/**
 * Delete objects (a caller takes its claim): the deleted meta record, then a purge of the object's
 * chunks. The purge's filter is in its body, so this grant covers the whole bucket.
 */
export const objectDelete = (bucket: string): string[] => [`$O.${bucket}.M.*`, `${API}.STREAM.PURGE.${objStream(bucket)}`];

/** A KV bucket its process owns: create/open, get (direct or not), put. */
export function kvBucket(bucket: string): string[] {
  const s = `KV_${bucket}`;
  return [`$KV.${bucket}.>`, `${API}.STREAM.CREATE.${s}`, `${API}.STREAM.INFO.${s}`, `${API}.STREAM.MSG.GET.${s}`, ...directGetAny(s)];
}

/**
 * Follow a KV bucket without writing it (the conductor's rollout weights): open or create it, get
 * a key, and watch it through an ordered push consumer of the whole bucket, answering its flow control.
 */
export function kvWatch(bucket: string): string[] {
  const s = `KV_${bucket}`;
  return [
    `${API}.STREAM.CREATE.${s}`,
    `${API}.STREAM.INFO.${s}`,
    `${API}.STREAM.MSG.GET.${s}`,
    ...directGetAny(s),
    `${API}.CONSUMER.CREATE.${s}.*.$KV.${bucket}.>`,
    ...["INFO", "DELETE"].map((op) => `${API}.CONSUMER.${op}.${s}.*`),
    `$JS.FC.${s}.>`,
  ];
}
