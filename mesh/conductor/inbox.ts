/**
 * What the conductor accepts from the inbox, and what it does with what it refuses: the dead-letter
 * stream, with the reason and the original body.
 *
 * The subject is the authority. NATS let the publisher write `lyra.inbox.<channel>.*` and nothing
 * else, so the channel and conversation are the subject's; a body naming others is refused, and so
 * is a message for a conversation another channel started (its log is that channel's history).
 */
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { Header, InboxMessage, type InboxMessage as Inbox, type LogEvent, type OutboxMessage } from "../../schemas/index.ts";
import { decodeBody, encodeBody } from "../body.ts";
import { parseInboxSubject, subjects } from "../subjects.ts";
import type { Mesh } from "../connect.ts";
import type { Logger } from "../logger.ts";
import { DeadLetterCause } from "./types.ts";

/** A message given up on: why, and (when it decoded) the message with the subject's channel and conversation. */
export interface Refusal {
  ok: false;
  cause: DeadLetterCause;
  reason: string;
  inbox?: Inbox;
  /** What the sender is told on the outbox of the subject it published to; none: nothing is sent. */
  reply?: string;
}
export type Admission = { ok: true; inbox: Inbox } | Refusal;

/** Decodes and checks a delivered inbox message against its subject and its delivery count. */
export function admit(m: JsMsg, maxDeliver: number): Admission {
  let inbox: Inbox;
  try {
    inbox = decodeBody(InboxMessage, m, "inbox message");
  } catch (err) {
    return { ok: false, cause: DeadLetterCause.Undecodable, reason: (err as Error).message };
  }
  const at = parseInboxSubject(m.subject);
  if (!at)
    return { ok: false, cause: DeadLetterCause.Undecodable, reason: `subject '${m.subject}' is not lyra.inbox.<channel>.<conversation>` };
  if (inbox.channel !== at.channel || inbox.conversation !== at.conversation) {
    return {
      ok: false,
      cause: DeadLetterCause.SubjectMismatch,
      reason:
        `the body names channel '${inbox.channel}' and conversation '${inbox.conversation}' but arrived on ` +
        `${m.subject}: the subject decides, so publish to ${subjects.inbox(inbox.channel, inbox.conversation)} or name ` +
        `'${at.channel}' and '${at.conversation}' in the body`,
      reply: `this message names another channel or conversation than the subject it was published on (${m.subject}); it was not answered`,
      inbox: { ...inbox, ...at },
    };
  }
  if (m.info.deliveryCount > maxDeliver) {
    return { ok: false, cause: DeadLetterCause.MaxDeliver, reason: `gave up after ${m.info.deliveryCount - 1} deliveries`, inbox };
  }
  return { ok: true, inbox };
}

/** Refuses a message whose conversation another channel started, judged by the log's newest user message. */
export function foreignConversation(inbox: Inbox, prior: readonly LogEvent[]): Refusal | undefined {
  const owner = prior.findLast((e) => e.type === "user_message");
  if (!owner || owner.type !== "user_message" || owner.channel === inbox.channel) return undefined;
  return {
    ok: false,
    cause: DeadLetterCause.ForeignConversation,
    reason:
      `conversation '${inbox.conversation}' belongs to channel '${owner.channel}'; a message on channel ` +
      `'${inbox.channel}' cannot join it: use another conversation id`,
    reply: `conversation '${inbox.conversation}' belongs to another channel; use another conversation id`,
    inbox,
  };
}

export type DeadLetter = (m: JsMsg, refused: Refusal) => Promise<void>;

/**
 * Stores a refused message in `lyra.dead.<channel>` and terminates it. A refusal with a `reply`
 * also answers the sender, on the outbox of the subject it published to, so it is not left
 * waiting; only a message refused after its turn began (too many deliveries) is logged in its
 * conversation, since the others are no part of it.
 */
export function deadLetterer(
  mesh: Mesh,
  js: JetStreamClient,
  log: Logger,
  dead: (cause: DeadLetterCause, conversation?: string) => void,
): DeadLetter {
  return async (m, refused) => {
    const channel = parseInboxSubject(m.subject)?.channel ?? "unknown";
    const { reason, cause, inbox } = refused;
    log.warn({ subject: m.subject, seq: m.seq, reason }, "dead-lettering inbox message");
    const body = {
      ts: Date.now(),
      stream_seq: m.seq,
      subject: m.subject,
      deliveries: m.info.deliveryCount,
      reason,
      body_b64: Buffer.from(m.data).toString("base64"),
    };
    try {
      const { data, headers } = encodeBody(mesh, body);
      await js.publish(subjects.dead(channel), data, { msgID: `dead:${m.seq}`, headers });
    } catch (err) {
      log.error({ err }, "could not store the dead letter; leaving the message for redelivery");
      m.nak(5000);
      return;
    }
    m.term(); // no reason: servers before 2.10.4 ignore "+TERM <reason>" and redeliver
    dead(cause, inbox?.conversation);
    if (!inbox) return;
    // Best effort from here: the log or the outbox may be what keeps failing.
    if (refused.reply) {
      const out: OutboxMessage = {
        conversation: inbox.conversation,
        channel: inbox.channel,
        in_reply_to: inbox.id,
        text: `Sorry: ${refused.reply}.`,
        final: true,
        error: refused.reply,
        ts: Date.now(),
      };
      const e = encodeBody(mesh, out, { [Header.Conversation]: inbox.conversation });
      await js
        .publish(subjects.outbox(inbox.channel, inbox.conversation), e.data, {
          msgID: `${inbox.channel}:${inbox.id}:reply`,
          headers: e.headers,
        })
        .catch((err: unknown) => log.warn({ err }, "could not answer the refused message"));
      return;
    }
    const ev = {
      type: "error",
      step: "inbox",
      code: "dead_letter",
      message: reason,
      ts: Date.now(),
      conversation: inbox.conversation,
      turn: inbox.id,
    };
    const e = encodeBody(mesh, ev);
    await js
      .publish(subjects.log(inbox.conversation), e.data, { msgID: `${inbox.channel}:${inbox.id}:dead`, headers: e.headers })
      .catch((err: unknown) => log.warn({ err }, "could not log the dead letter"));
  };
}
