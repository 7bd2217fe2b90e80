/**
 * A conductor replica's cache of conversation logs, so a turn does not read the whole log with a
 * new ordered consumer each time. Before a turn the cache is checked against the log with one
 * direct get (the last message on `lyra.log.<conversation>`): when the log's last sequence is the
 * one the cache ends at, the cached events are the log. When another replica ran the turns in
 * between, the few new events are read with direct gets; a long gap, an unknown conversation or
 * any error reads the log's last turns (readTail), never the whole of a long conversation.
 *
 * Why this is exact: a conversation's turns run one at a time across replicas (the conductor
 * starts a message only when it is the oldest of its conversation), and a turn appends through
 * this cache (appended()), so at the start of the next turn the cache ends where the log ends.
 * The one other writer, the conductor's dead-letter path, appends `error` events, which neither
 * the history nor the reuse of a turn's steps reads; a dead letter in this replica drops the entry.
 *
 * Bounded: entries expire after `ttlMs` unused, at most `maxConversations` are kept (least
 * recently used out), and an entry keeps only the events of the turns a history can still include.
 */
import type { JetStreamClient, JetStreamManager, PubAck } from "@nats-io/jetstream";
import type { LogEvent } from "../../schemas/index.ts";
import { StreamName } from "../streams.ts";
import { subjects } from "../subjects.ts";
import { decodeLogEvent, readLog } from "./history.ts";

export interface LogCacheOptions {
  /**
   * Turns with a user message to keep per conversation: the history's turn limit + 1 (the turn being run is
   * left out of its own history).
   */
  keepTurns: number;
  /** Default 1000. */
  maxConversations?: number;
  /** An entry unused this long is read from the log again; default 5 minutes. */
  ttlMs?: number;
  /** New events read with direct gets before a full read is cheaper; default 16. */
  maxCatchUp?: number;
  /** Stream sequences a tail read looks back at first (then 8 times more each time); default 1024. */
  tailSpan?: number;
  /** The clock the TTL reads (tests); default Date.now. */
  now?: () => number;
}

interface Entry {
  lastSeq: number;
  events: LogEvent[];
  at: number;
}

export interface LogCache {
  /** The conversation's events, as readLog would return them (trimmed to what a turn uses). */
  read(conversation: string): Promise<LogEvent[]>;
  /** Records an event this replica appended (the event as stored and the stream's ack). */
  appended(conversation: string, event: LogEvent, ack: PubAck): void;
  /** Drops a conversation: the next read goes to the log. */
  forget(conversation: string): void;
  readonly size: number;
  /** Log messages fetched by reads that missed the cache (tests, diagnostics). */
  readonly messagesRead: number;
}

export function createLogCache(jsm: JetStreamManager, js: JetStreamClient, o: LogCacheOptions): LogCache {
  const maxConversations = o.maxConversations ?? 1000;
  const ttlMs = o.ttlMs ?? 5 * 60_000;
  const maxCatchUp = o.maxCatchUp ?? 16;
  const tailSpan = o.tailSpan ?? 1024;
  const now = o.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let messagesRead = 0;

  const store = (conversation: string, lastSeq: number, events: LogEvent[]) => {
    const kept = trimToTurns(events, o.keepTurns);
    entries.delete(conversation);
    entries.set(conversation, { lastSeq, events: kept, at: now() });
    while (entries.size > maxConversations) entries.delete(entries.keys().next().value!);
    return kept;
  };

  /**
   * The conversation's last turns, read from the log. A turn needs only its last keepTurns, and a
   * long conversation holds thousands: the read starts `tailSpan` stream sequences before the last
   * message and looks 8 times further back while the window holds keepTurns user messages or
   * fewer (a turn cut at the window's start is dropped by the trim). Without the last sequence
   * (no direct get), the whole conversation.
   */
  const readTail = async (conversation: string, last: number | undefined) => {
    for (let span = tailSpan; ; span *= 8) {
      const from = last === undefined ? 1 : Math.max(1, last - span + 1);
      const r = await readLog(js, conversation, from);
      messagesRead += r.read;
      if (from === 1 || r.events.filter((e) => e.type === "user_message").length > o.keepTurns) return r;
    }
  };

  /** The sequence of the last message on the conversation's subject: 0 for none, undefined when unknown. */
  const lastSeqOf = async (conversation: string): Promise<number | undefined> => {
    try {
      const m = await jsm.direct.getMessage(StreamName.Log, { last_by_subj: subjects.log(conversation) });
      return m ? m.seq : 0;
    } catch {
      return undefined; // no direct get on this stream (yet), or the server is busy: read the log
    }
  };

  /** The events after `from` up to `to`, by direct gets; undefined when there are too many or a get fails. */
  const catchUp = async (conversation: string, from: number, to: number): Promise<LogEvent[] | undefined> => {
    const out: LogEvent[] = [];
    let seq = from;
    for (let i = 0; i < maxCatchUp; i++) {
      const m = await jsm.direct.getMessage(StreamName.Log, { next_by_subj: subjects.log(conversation), seq: seq + 1 }).catch(() => null);
      if (!m || m.seq > to) return undefined;
      seq = m.seq;
      const e = decodeLogEvent({ data: m.data, headers: m.header });
      if (e) out.push(e);
      if (seq === to) return out;
    }
    return undefined;
  };

  return {
    async read(conversation) {
      let e = entries.get(conversation);
      if (e && now() - e.at > ttlMs) {
        entries.delete(conversation);
        e = undefined;
      }
      const last = await lastSeqOf(conversation);
      if (last === 0) {
        store(conversation, 0, []);
        return [];
      }
      if (e && last !== undefined) {
        if (last === e.lastSeq) {
          entries.delete(conversation); // most recently used last
          entries.set(conversation, e);
          e.at = now(); // the TTL ends idle entries, not busy ones
          return [...e.events];
        }
        if (last > e.lastSeq) {
          const more = await catchUp(conversation, e.lastSeq, last);
          if (more) return [...store(conversation, last, [...e.events, ...more])];
        }
      }
      const { events, lastSeq } = await readTail(conversation, last);
      return [...store(conversation, lastSeq, events)];
    },
    appended(conversation, ev, ack) {
      const e = entries.get(conversation);
      if (!e) return;
      // A duplicate stored someone else's body; a sequence behind ours means the cache is off.
      if (ack.duplicate || ack.seq <= e.lastSeq) {
        entries.delete(conversation);
        return;
      }
      e.events.push(ev);
      e.lastSeq = ack.seq;
      if (ev.type === "user_message") e.events = trimToTurns(e.events, o.keepTurns);
    },
    forget(conversation) {
      entries.delete(conversation);
    },
    get messagesRead() {
      return messagesRead;
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * The events of the newest `keep` turns that have a user message, and of every turn after the
 * oldest of them; buildHistory() over the result is buildHistory() over all the events as long as
 * it asks for fewer than `keep` turns besides the one it leaves out.
 */
export function trimToTurns(events: LogEvent[], keep: number): LogEvent[] {
  // Turn order as buildHistory sees it: first user_message or voice_reply of each turn.
  const order: string[] = [];
  const firstAt = new Map<string, number>();
  const withUser = new Set<string>();
  events.forEach((e, i) => {
    if (e.type !== "user_message" && e.type !== "voice_reply") return;
    if (!firstAt.has(e.turn)) {
      firstAt.set(e.turn, i);
      order.push(e.turn);
    }
    if (e.type === "user_message") withUser.add(e.turn);
  });
  let counted = 0;
  let boundary = -1; // index in `order` of the oldest turn kept
  for (let i = order.length - 1; i >= 0; i--) {
    if (withUser.has(order[i]!) && ++counted === keep) {
      boundary = i;
      break;
    }
  }
  if (boundary <= 0) return events;
  const dropped = new Set(order.slice(0, boundary));
  const from = firstAt.get(order[boundary]!)!;
  return events.filter((e, i) => !dropped.has(e.turn) && (i >= from || firstAt.has(e.turn)));
}
