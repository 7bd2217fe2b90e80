/** Publishing to a JetStream stream so that a leader election does not fail the publish. */
import { NoRespondersError, nuid, RequestError, TimeoutError, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiError, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import { setTimeout as sleep } from "node:timers/promises";

/** How long publishStored() keeps trying through a stream leader election, ms. */
export const STORED_PUBLISH_RETRY_MS = 20_000;
/** One try's wait for the stream's ack, ms: a request sent to a leader that died is never answered. */
export const STORED_PUBLISH_TRY_MS = 2_500;

/**
 * Publishes to a stream and waits for its ack, trying again while the stream has no leader (a
 * try times out, no responders, or a 503 from JetStream), for up to `retryMs`
 * (STORED_PUBLISH_RETRY_MS). Safe because the message id de-duplicates a try that was stored but
 * whose ack was lost (the ack then says `duplicate`); `signal` stops the retries. Without it, a log append that met the
 * election after a node loss failed its whole turn, whose model calls then ran again.
 */
export async function publishStored(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  opts: { msgID: string; headers?: MsgHdrs; retryMs?: number; tryMs?: number; signal?: AbortSignal },
): Promise<PubAck> {
  const end = Date.now() + (opts.retryMs ?? STORED_PUBLISH_RETRY_MS);
  const timeout = opts.tryMs ?? STORED_PUBLISH_TRY_MS;
  for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
    try {
      return await js.publish(subject, data, { msgID: opts.msgID, headers: opts.headers, timeout });
    } catch (err) {
      if (!leaderless(err) || opts.signal?.aborted || Date.now() + wait >= end) throw err;
      await sleep(wait, undefined, { signal: opts.signal }).catch(() => undefined);
    }
  }
}

/** Errors of a stream that has no leader for the moment (an election), not of a refused message. */
function leaderless(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  if (err instanceof JetStreamApiError) return err.status === 503;
  // A plain request (the batch's commit) to a subject no stream takes for the moment.
  if (err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())) return true;
  // No responders on the stream's subject: @nats-io/jetstream 3.4 turns it into JetStreamNotEnabled,
  // a class its public surface does not export, so only its name can tell it.
  return err instanceof Error && err.name === "JetStreamNotEnabled";
}

/** One message of a batch: its body, headers and the message id that de-duplicates it. */
export interface StoredMessage {
  data: Uint8Array;
  headers: MsgHdrs;
  msgID: string;
}

/** JetStream's error codes for an atomic batch (nats-server 2.12+): the stream does not allow it, or an id is stored already. */
const ATOMIC_DISABLED = 10174;
const BATCH_HAS_DUPLICATE = 10201;
const BATCH_HEADERS = ["Nats-Batch-Id", "Nats-Batch-Sequence", "Nats-Batch-Commit"] as const;

/**
 * Stores messages on one subject, in order, as one atomic batch (nats-server 2.12+, a stream with
 * `allow_atomic`): all are stored, with consecutive sequences, or none; one round trip (the
 * others are sent without a reply, the commit waits for the stream's ack). Returns one ack per
 * message. A re-sent batch (a re-run, a retry whose first ack was lost) is refused whole by
 * JetStream when any of its ids is stored already, so it is then stored one message at a time,
 * where each id's de-duplication keeps only those not yet stored. With `atomic` false, a single
 * message, or a stream that refuses atomic batches (`atomic` in the result is then false), the
 * messages go one at a time (publishStored).
 */
export async function publishStoredBatch(
  js: JetStreamClient,
  nc: NatsConnection,
  subject: string,
  msgs: readonly StoredMessage[],
  opts: { atomic: boolean; retryMs?: number; tryMs?: number; signal?: AbortSignal },
): Promise<{ acks: PubAck[]; atomic: boolean }> {
  const oneByOne = async (atomic: boolean) => {
    const acks: PubAck[] = [];
    for (const m of msgs) for (const h of BATCH_HEADERS) m.headers.delete(h); // from a refused batch
    for (const m of msgs) acks.push(await publishStored(js, subject, m.data, { ...opts, msgID: m.msgID, headers: m.headers }));
    return { acks, atomic };
  };
  if (!opts.atomic || msgs.length < 2) return oneByOne(opts.atomic);
  const end = Date.now() + (opts.retryMs ?? STORED_PUBLISH_RETRY_MS);
  for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
    let ack: PubAck & { count?: number; error?: { err_code?: number; description?: string } };
    try {
      ack = await sendBatch(nc, subject, msgs, opts.tryMs ?? STORED_PUBLISH_TRY_MS);
    } catch (err) {
      if (!leaderless(err) || opts.signal?.aborted || Date.now() + wait >= end) throw err;
      await sleep(wait, undefined, { signal: opts.signal }).catch(() => undefined);
      continue;
    }
    const code = ack.error?.err_code;
    if (code === BATCH_HAS_DUPLICATE) return oneByOne(true);
    if (code === ATOMIC_DISABLED) return oneByOne(false);
    if (ack.error) throw new Error(`JetStream refused the batch on ${subject}: ${ack.error.description ?? JSON.stringify(ack.error)}`);
    if (ack.count !== msgs.length) throw new Error(`JetStream stored ${ack.count} of a batch of ${msgs.length} on ${subject}`);
    // The batch holds consecutive sequences, ending at the commit's.
    return { acks: msgs.map((_, i) => ({ ...ack, seq: ack.seq - (msgs.length - 1 - i), duplicate: false })), atomic: true };
  }
}

/** Sends one atomic batch (a fresh batch id), the commit as a request; returns the stream's answer to it. */
async function sendBatch(nc: NatsConnection, subject: string, msgs: readonly StoredMessage[], timeout: number) {
  const id = nuid.next();
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    m.headers.set("Nats-Msg-Id", m.msgID);
    m.headers.set("Nats-Batch-Id", id);
    m.headers.set("Nats-Batch-Sequence", String(i + 1));
    if (i < msgs.length - 1) nc.publish(subject, m.data, { headers: m.headers });
    else {
      m.headers.set("Nats-Batch-Commit", "1");
      const r = await nc.request(subject, m.data, { headers: m.headers, timeout });
      return r.json<PubAck & { count?: number; error?: { err_code?: number; description?: string } }>();
    }
  }
  throw new Error("an empty batch");
}
