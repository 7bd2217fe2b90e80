/** Publishing to a JetStream stream so that a leader election does not fail the publish. */
import { TimeoutError, type MsgHdrs } from "@nats-io/nats-core";
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
  // No responders on the stream's subject: @nats-io/jetstream 3.4 turns it into JetStreamNotEnabled,
  // a class its public surface does not export, so only its name can tell it.
  return err instanceof Error && err.name === "JetStreamNotEnabled";
}
