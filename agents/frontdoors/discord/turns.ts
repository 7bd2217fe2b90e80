/**
 * The turns waiting for their reply: each holds a channel slot, a typing indicator (message
 * turns) and what has streamed so far. Starting one checks the user's rate and the channel's
 * slots, then publishes the message to the inbox.
 */
import { type Mesh, type Logger, publishInbox } from "../../../mesh/index.ts";
import type { Media } from "../../../schemas/index.ts";
import type { ChannelSlots, UserRateLimiter } from "./limits.ts";
import { DOOR, Outcome, type FrontdoorMetrics } from "./metrics.ts";
import { DISCORD_CHANNEL } from "./outbox.ts";
import type { Poster } from "./rest.ts";
import { Say } from "./say.ts";
import type { StreamEditor } from "./stream.ts";

/** One turn waiting for its reply. */
export interface Turn {
  id: string;
  channelId: string;
  conversation: string;
  started: number;
  /** The user's message, for a reply reference (message turns). */
  replyTo?: string;
  /** The interaction to answer (`/ask`); its token lasts 15 minutes. */
  interaction?: { appId: string; token: string; at: number };
  streamed?: string;
  editor?: StreamEditor;
  text: Map<string, string>;
  step?: string;
  typing?: NodeJS.Timeout;
  timeout?: NodeJS.Timeout;
}

/** What a turn is started from: the turn's identity, who asked, what, and how to answer a refusal. */
export interface TurnRequest {
  turn: Omit<Turn, "text" | "started">;
  user: { id: string; name?: string };
  text: string;
  media: Media[];
  /** Answers the user when a limit or a check refuses. */
  reply: (s: string) => Promise<void>;
  /** Runs once the turn is accepted, before the publish (`/ask` defers its interaction). */
  accepted?: () => Promise<void>;
}

export interface Turns {
  get(id: string): Turn | undefined;
  all(): Turn[];
  /** Checks the limits, then publishes. */
  start(r: TurnRequest): Promise<void>;
  /** Frees the turn's slot and timers; a turn already ended is left alone. */
  end(t: Turn): void;
  /** Resolves once no turn waits for its reply (at once when none does): what a drain waits for. */
  idle(): Promise<void>;
}

export interface TurnsDeps {
  mesh: Mesh;
  log: Logger;
  poster: Poster;
  limiter: UserRateLimiter;
  slots: ChannelSlots;
  metrics: FrontdoorMetrics;
  count: (outcome: Outcome) => void;
}

const TYPING_EVERY_MS = 8000;
/** A turn's slot is freed after this even without a reply (the reply, if it comes, is still posted). */
const TURN_SLOT_MS = 10 * 60_000;

export function createTurns(d: TurnsDeps): Turns {
  const turns = new Map<string, Turn>();
  const idlers: (() => void)[] = [];
  const end = (t: Turn) => {
    if (turns.get(t.id) !== t) return;
    turns.delete(t.id);
    clearInterval(t.typing);
    clearTimeout(t.timeout);
    d.slots.release(t.channelId);
    if (turns.size === 0) for (const resolve of idlers.splice(0)) resolve();
  };
  const idle = () => (turns.size === 0 ? Promise.resolve() : new Promise<void>((r) => idlers.push(r)));
  // True when the user's rate or the channel's slots refuse the turn (the user has been told why).
  const refuse = async (r: TurnRequest): Promise<boolean> => {
    const rate = d.limiter.take(r.user.id);
    if (!rate.ok) {
      d.metrics.rateLimited.inc({ door: DOOR });
      d.count(Outcome.RateLimited);
      await r.reply(Say.rateLimited(Math.ceil(rate.retryInMs / 1000)));
      return true;
    }
    if (!d.slots.acquire(r.turn.channelId)) {
      d.metrics.rateLimited.inc({ door: DOOR });
      d.count(Outcome.Busy);
      await r.reply(Say.busy);
      return true;
    }
    return false;
  };
  const open = (t: TurnRequest["turn"]): Turn => {
    const turn: Turn = { ...t, text: new Map(), started: Date.now() };
    turns.set(t.id, turn);
    turn.timeout = setTimeout(() => end(turn), TURN_SLOT_MS);
    if (t.replyTo) {
      const typing = () => void d.poster.typing(t.channelId).catch((err: unknown) => d.log.debug({ err }, "typing failed"));
      typing();
      turn.typing = setInterval(typing, TYPING_EVERY_MS);
    }
    return turn;
  };
  const start = async (r: TurnRequest): Promise<void> => {
    const t = r.turn;
    if (turns.has(t.id)) return d.count(Outcome.Duplicate);
    if (await refuse(r)) return;
    const turn = open(t);
    try {
      await r.accepted?.();
      const published = await publishInbox(d.mesh, {
        id: t.id,
        channel: DISCORD_CHANNEL,
        conversation: t.conversation,
        user: r.user,
        text: r.text,
        ts: Date.now(),
        ...(r.media.length ? { media: r.media } : {}),
      });
      if (published.duplicate) {
        // Sent before (a re-send, or a restart): the first one's reply is (or was) posted.
        end(turn);
        d.count(Outcome.Duplicate);
      }
    } catch (err) {
      end(turn);
      d.log.error({ err, id: t.id }, "could not publish to the inbox");
      d.count(Outcome.Failed);
      await r.reply(Say.failed);
    }
  };
  return { get: (id) => turns.get(id), all: () => [...turns.values()], start, end, idle };
}
