/**
 * The adapter's durable consumer of the outbox (`lyra.outbox.discord.*`): replies stored while the
 * adapter was down are delivered when it comes back. Each is acked after it was posted, and the
 * posted ones are remembered by `in_reply_to`, so a redelivery is not posted twice.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { OutboxMessage } from "../../../schemas/index.ts";
import { consumeDurable, decodeBody, StreamName, subjects, type Mesh, type Logger } from "../../../mesh/index.ts";
import type { DiscordState } from "./state.ts";

export const DISCORD_CHANNEL = "discord";
/** How long one reply may take to post before the server redelivers it, ms. */
const ACK_WAIT_MS = 60_000;

export interface OutboxReader {
  /** Stops consuming; resolves when the reply being posted (if any) is done. */
  close(): Promise<void>;
}

/** Consumes the stored replies; `post` throwing leaves the message for redelivery (after 5 s). */
export async function readOutbox(
  mesh: Mesh,
  durable: string,
  state: DiscordState,
  log: Logger,
  post: (o: OutboxMessage) => Promise<string[]>,
): Promise<OutboxReader> {
  const jsm = await jetstreamManager(mesh.nc);
  const existing = await jsm.consumers.info(StreamName.Outbox, durable).catch(() => null);
  if (!existing) {
    await jsm.consumers.add(StreamName.Outbox, {
      durable_name: durable,
      filter_subject: subjects.outboxChannel(DISCORD_CHANNEL),
      // The first start takes what comes from now on; later starts resume where the last one stopped.
      deliver_policy: DeliverPolicy.New,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: 20,
    });
  }
  const consumer = await jetstream(mesh.nc).consumers.get(StreamName.Outbox, durable);
  // Within seconds of the consumer's leader being lost, like the conductor's inbox (consumeDurable).
  const messages: ConsumerMessages = await consumeDurable(consumer, 16);
  const loop = (async () => {
    for await (const m of messages) {
      let o: OutboxMessage;
      try {
        o = decodeBody(OutboxMessage, m, "outbox message");
      } catch (err) {
        log.warn({ err, subject: m.subject }, "outbox message is malformed; dropped");
        m.term();
        continue;
      }
      try {
        if (await state.wasSent(o.in_reply_to)) {
          log.debug({ inReplyTo: o.in_reply_to }, "reply already posted; acking the redelivery");
        } else {
          const ids = await post(o);
          await state.markSent(o.in_reply_to, ids);
        }
        m.ack();
      } catch (err) {
        log.warn({ err, inReplyTo: o.in_reply_to }, "could not post a reply; it will be redelivered");
        m.nak(5000);
      }
    }
  })().catch((err: unknown) => log.error({ err }, "outbox consumer stopped"));
  return {
    async close() {
      await messages.close().catch(() => undefined);
      await loop;
    },
  };
}
