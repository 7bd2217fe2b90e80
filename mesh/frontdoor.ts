/** What a front door (Discord, the CLI, OpenAI) does: publish a user message, follow the reply, read a stored one. */
import { jetstream, type JetStreamManager } from "@nats-io/jetstream";
import { assertFits, Header, InboxMessage, OutboxMessage, validate } from "../schemas/index.ts";
import { decodeBody, encodeBody } from "./body.ts";
import { lifecycle, type Closable } from "./lifecycle.ts";
import { StreamName } from "./streams.ts";
import { subjects } from "./subjects.ts";
import type { Mesh } from "./connect.ts";

/**
 * Publishes a user message to the inbox; a re-send of the same platform id is deduplicated.
 * `traceparent` (W3C) starts the turn's trace; every hop after this continues it. A message over
 * the server's max_payload throws PayloadTooLargeError before anything is sent (the front door's
 * user sent too much), not the connection's generic publish failure.
 */
export async function publishInbox(
  mesh: Mesh,
  msg: InboxMessage,
  o: { traceparent?: string } = {},
): Promise<{ seq: number; duplicate: boolean }> {
  const m = validate(InboxMessage, msg, "inbox message");
  const { data, headers } = encodeBody(mesh, m, {
    [Header.Conversation]: m.conversation,
    ...(o.traceparent ? { [Header.TraceParent]: o.traceparent } : {}),
  });
  assertFits(data, mesh.maxPayload(), "inbox message");
  const ack = await jetstream(mesh.nc).publish(subjects.inbox(m.channel, m.conversation), data, {
    msgID: `${m.channel}:${m.id}`,
    headers,
  });
  return { seq: ack.seq, duplicate: ack.duplicate };
}

/** close() stops following (unsubscribes); the iterator closes it when it ends. */
export interface ReplyWatch extends Closable {
  /** Partial text as it streams, then the final reply (final: true) for `inReplyTo`. */
  [Symbol.asyncIterator](): AsyncIterator<OutboxMessage>;
}

/**
 * Follows the live partial output and the stored final reply of a conversation. Subscribe
 * BEFORE publishing, so nothing is missed. Ends after the final reply to `inReplyTo`.
 */
export function watchReplies(mesh: Mesh, channel: string, conversation: string, inReplyTo: string): ReplyWatch {
  const queue: OutboxMessage[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  // Callbacks, not one iterator per subscription: the client calls them in the order the messages
  // arrived, so the partials and the final stay in the order they were published.
  const push = (_err: unknown, m: { data: Uint8Array; headers?: import("@nats-io/nats-core").MsgHdrs }) => {
    try {
      const o = decodeBody(OutboxMessage, m, "outbox message");
      if (o.in_reply_to !== inReplyTo) return;
      queue.push(o);
      wake?.();
    } catch {
      // not ours to judge: a tap shows it
    }
  };
  const sub = mesh.nc.subscribe(`${subjects.outbox(channel, conversation)}.>`, { callback: push });
  const finalSub = mesh.nc.subscribe(subjects.outbox(channel, conversation), { callback: push });
  const { close, closed } = lifecycle({
    close: async () => {
      done = true;
      sub.unsubscribe();
      finalSub.unsubscribe();
      wake?.();
    },
  });
  return {
    close,
    closed,
    async *[Symbol.asyncIterator]() {
      try {
        while (!done) {
          const next = queue.shift();
          if (!next) {
            await new Promise<void>((r) => (wake = r));
            continue;
          }
          yield next;
          if (next.final) return;
        }
      } finally {
        await close();
      }
    },
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The last reply stored on a conversation's outbox subject; undefined when there is none or the
 * lookup fails. A direct get: it names the subject in the request subject, which a front door's
 * permissions confine to its channel.
 */
export async function lastStoredReply(jsm: JetStreamManager, channel: string, conversation: string): Promise<OutboxMessage | undefined> {
  const last = await jsm.direct.getMessage(StreamName.Outbox, { last_by_subj: subjects.outbox(channel, conversation) }).catch(() => null);
  return last ? decodeBody(OutboxMessage, { data: last.data, headers: last.header }, "stored reply") : undefined;
}

/**
 * The stored final reply to `inReplyTo`, when its turn already finished: the conversation's last
 * reply, or (a rare re-send of an earlier message) a read of all its replies.
 */
export async function storedReply(
  mesh: Mesh,
  jsm: JetStreamManager,
  channel: string,
  conversation: string,
  inReplyTo: string,
): Promise<OutboxMessage | undefined> {
  const last = await lastStoredReply(jsm, channel, conversation);
  if (!last) return undefined;
  if (last.in_reply_to === inReplyTo) return last;
  const c = await jetstream(mesh.nc).consumers.get(StreamName.Outbox, { filter_subjects: subjects.outbox(channel, conversation) });
  const batch = await c.fetch({ max_messages: 10_000, expires: 2000 });
  let found: OutboxMessage | undefined;
  for await (const m of batch) {
    const r = decodeBody(OutboxMessage, m, "outbox message");
    if (r.in_reply_to === inReplyTo) found = r;
    if (m.info.pending === 0) break;
  }
  return found;
}
