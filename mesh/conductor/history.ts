/** Reads a conversation's log and turns it into chat history for the next turn. */
import { DeliverPolicy, jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { LogEvent, type ChatMessage } from "../../schemas/index.ts";
import { decodeBody } from "../body.ts";
import { StreamName } from "../streams.ts";
import { subjects } from "../subjects.ts";
import type { Mesh } from "../connect.ts";

export interface HistoryLimits {
  /** Most recent turns kept; default 10. */
  turns?: number;
  /** Most bytes of history text kept; default 16 KiB. */
  bytes?: number;
}

/** Every event of a conversation, oldest first. Reads with an ordered consumer until caught up. */
export async function readConversation(mesh: Mesh, conversation: string, js: JetStreamClient = jetstream(mesh.nc)): Promise<LogEvent[]> {
  return (await readLog(js, conversation)).events;
}

/**
 * Every event of a conversation, oldest first (from stream sequence `fromSeq` on, when given), the
 * stream sequence of the last message on its subject (0 when there is none; an undecodable last
 * message still counts) and how many messages were read.
 */
export async function readLog(
  js: JetStreamClient,
  conversation: string,
  fromSeq?: number,
): Promise<{ events: LogEvent[]; lastSeq: number; read: number }> {
  const consumer = await js.consumers.get(StreamName.Log, {
    filter_subjects: subjects.log(conversation),
    ...(fromSeq && fromSeq > 1
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq }
      : { deliver_policy: DeliverPolicy.All }),
  });
  const events: LogEvent[] = [];
  let lastSeq = 0;
  let read = 0;
  const info = await consumer.info(true);
  if (info.num_pending === 0) return { events, lastSeq, read }; // a new conversation: nothing to wait for
  // fetch() ends after max_messages or when it has waited `expires` with nothing new.
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
    let pending = 0;
    let got = 0;
    for await (const m of batch) {
      got++;
      read++;
      pending = m.info.pending;
      lastSeq = m.seq;
      const e = decodeLogEvent(m);
      if (e) events.push(e);
      if (pending === 0) break;
    }
    if (got === 0 || pending === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return { events, lastSeq, read };
}

/** A stored log message as a conversation read sees it: undefined for a foreign or corrupt entry. */
export function decodeLogEvent(m: { data: Uint8Array; headers?: MsgHdrs }): LogEvent | undefined {
  try {
    return decodeBody(LogEvent, m, "log event");
  } catch {
    // A foreign or corrupt entry must not stop a conversation; it is simply not history.
    return undefined;
  }
}

/** User turns and Lyra's replies, most recent last, bounded by turns and bytes. */
export function buildHistory(events: LogEvent[], excludeTurn: string, limits: HistoryLimits = {}): ChatMessage[] {
  const maxTurns = limits.turns ?? 10;
  const maxBytes = limits.bytes ?? 16 * 1024;
  const turns = new Map<string, { user?: string; reply?: string }>();
  for (const e of events) {
    if (e.turn === excludeTurn) continue;
    if (e.type === "user_message") turns.set(e.turn, { ...turns.get(e.turn), user: e.text });
    else if (e.type === "voice_reply") turns.set(e.turn, { ...turns.get(e.turn), reply: e.text });
  }
  const out: ChatMessage[] = [];
  let bytes = 0;
  let kept = 0;
  for (const t of [...turns.values()].reverse()) {
    if (!t.user) continue;
    if (kept >= maxTurns) break;
    kept++;
    const size = t.user.length + (t.reply?.length ?? 0);
    if (bytes + size > maxBytes) break;
    bytes += size;
    if (t.reply) out.unshift({ role: "assistant", content: t.reply });
    out.unshift({ role: "user", content: t.user });
  }
  return out;
}
