/**
 * `lyra discord`: Discord ⇄ the mesh. Messages (mentions, DMs, configured channels) and `/ask` go
 * into the inbox with the Discord id as the message id; partials stream into one edited message;
 * final replies come from the outbox through a durable consumer (outbox.ts).
 */
import { Client, GatewayIntentBits, type RawFile } from "discord.js";
import type { Mesh } from "../../../mesh/connect.ts";
import type { Logger } from "../../../mesh/logger.ts";
import { publishInbox } from "../../../mesh/frontdoor.ts";
import { decodeBody } from "../../../mesh/publish.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { OutboxMessage, type DiscordConfig, type Media } from "../../../schemas/index.ts";
import { channelSlots, userRateLimiter } from "./limits.ts";
import { createFrontdoorMetrics, DOOR, Outcome, type FrontdoorMetrics } from "./metrics.ts";
import { AttachmentRefused, attachmentsToMedia, mediaToFiles } from "./media.ts";
import { DISCORD_CHANNEL, readOutbox, type OutboxReader } from "./outbox.ts";
import { CommandInteraction, interactionUser, MessageCreate, whyInvalid } from "./payloads.ts";
import { createPoster, type Poster } from "./rest.ts";
import { splitMessage } from "./split.ts";
import { channelOfConversation, openState, type DiscordState } from "./state.ts";
import { preview, streamEditor, type StreamEditor } from "./stream.ts";
import { handleCommand, SLASH_COMMANDS } from "./commands.ts";
import { createVoice, type Voice } from "./voice.ts";

export interface DiscordAdapterOptions {
  mesh: Mesh;
  config: DiscordConfig;
  /** The bot token ($DISCORD_TOKEN). */
  token: string;
  /** The mesh name (tenant of the tool calls: `speak`, status). */
  tenant: string;
  log: Logger;
  /** Discord's REST base, default https://discord.com/api (tests point it at a double). */
  apiUrl?: string;
  metrics?: FrontdoorMetrics;
  /** Called with the audio of each spoken reply before it plays (voice sessions). */
  onAudio?: (textChannelId: string, audio: { mime: string; bytes: Uint8Array }) => void;
}

export interface DiscordAdapter extends AsyncDisposable {
  /** The bot's user id (after login). */
  readonly botId: string;
  readonly metrics: FrontdoorMetrics;
  close(): Promise<void>;
}

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

const TYPING_EVERY_MS = 8000;
/** A turn's slot is freed after this even without a reply (the reply, if it comes, is still posted). */
const TURN_SLOT_MS = 10 * 60_000;
const INTERACTION_TTL_MS = 14 * 60_000;

export const Say = {
  rateLimited: (s: number) => `You're sending messages faster than I can answer. Please wait ${s} s and try again.`,
  busy: "I'm still answering in this channel. Please wait for that reply, then ask again.",
  failed: "Sorry, something went wrong and I could not answer that. Please try again.",
  empty: "What would you like to ask?",
};

export async function startDiscordAdapter(o: DiscordAdapterOptions): Promise<DiscordAdapter> {
  const { mesh, config: cfg, log } = o;
  const metrics = o.metrics ?? createFrontdoorMetrics();
  const state: DiscordState = await openState(mesh, cfg.conversation);
  const limiter = userRateLimiter(cfg.user_rate.messages, cfg.user_rate.window_s * 1000);
  const slots = channelSlots(cfg.channel_concurrency);
  const turns = new Map<string, Turn>();
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
      GatewayIntentBits.DirectMessages,
      GatewayIntentBits.GuildVoiceStates,
    ],
    allowedMentions: { parse: [], repliedUser: false },
    rest: o.apiUrl ? { api: o.apiUrl } : {},
  });
  const poster: Poster = createPoster(client.rest);
  const voice: Voice = createVoice({ mesh, client, tenant: o.tenant, server: cfg.speech_server, log, onAudio: o.onAudio });
  const count = (outcome: Outcome) => metrics.requests.inc({ door: DOOR, outcome });
  const ready = new Promise<void>((resolve) => client.once("clientReady", () => resolve()));
  try {
    await client.login(o.token);
    await ready;
  } catch (err) {
    // A refused token or an unreachable gateway: leave nothing running behind (the caller may stay up).
    voice.close();
    await client.destroy();
    throw err;
  }
  const botId = client.user!.id;
  const appId = client.application!.id;
  log.info({ bot: client.user!.tag, channels: cfg.channels.length }, "discord adapter connected");

  const endTurn = (t: Turn) => {
    if (turns.get(t.id) !== t) return;
    turns.delete(t.id);
    clearInterval(t.typing);
    clearTimeout(t.timeout);
    slots.release(t.channelId);
  };

  /** Checks the limits, then publishes; `reply` answers the user when a limit or a check refuses. */
  const startTurn = async (
    t: Omit<Turn, "text" | "started">,
    user: { id: string; name?: string },
    text: string,
    media: Media[],
    reply: (s: string) => Promise<void>,
    accepted?: () => Promise<void>,
  ): Promise<void> => {
    if (turns.has(t.id)) return count(Outcome.Duplicate);
    const rate = limiter.take(user.id);
    if (!rate.ok) {
      metrics.rateLimited.inc({ door: DOOR });
      count(Outcome.RateLimited);
      return reply(Say.rateLimited(Math.ceil(rate.retryInMs / 1000)));
    }
    if (!slots.acquire(t.channelId)) {
      metrics.rateLimited.inc({ door: DOOR });
      count(Outcome.Busy);
      return reply(Say.busy);
    }
    const turn: Turn = { ...t, text: new Map(), started: Date.now() };
    turns.set(t.id, turn);
    turn.timeout = setTimeout(() => endTurn(turn), TURN_SLOT_MS);
    if (t.replyTo) {
      const typing = () => void poster.typing(t.channelId).catch((err: unknown) => log.debug({ err }, "typing failed"));
      typing();
      turn.typing = setInterval(typing, TYPING_EVERY_MS);
    }
    try {
      await accepted?.();
      const r = await publishInbox(mesh, {
        id: t.id,
        channel: DISCORD_CHANNEL,
        conversation: t.conversation,
        user,
        text,
        ts: Date.now(),
        ...(media.length ? { media } : {}),
      });
      if (r.duplicate) {
        // Sent before (a re-send, or a restart): the first one's reply is (or was) posted.
        endTurn(turn);
        count(Outcome.Duplicate);
      }
    } catch (err) {
      endTurn(turn);
      log.error({ err, id: t.id }, "could not publish to the inbox");
      count(Outcome.Failed);
      await reply(Say.failed);
    }
  };

  const onMessage = async (raw: unknown) => {
    const p = MessageCreate.safeParse(raw);
    if (!p.success) {
      count(Outcome.Invalid);
      log.warn({ why: whyInvalid(p.error) }, "MESSAGE_CREATE refused: malformed");
      return;
    }
    const m = p.data;
    if (m.author.bot || m.author.id === botId || (m.type !== undefined && m.type !== 0 && m.type !== 19)) return;
    const dm = m.guild_id === undefined;
    const mentioned = m.mentions.some((u) => u.id === botId);
    const parent = client.channels.cache.get(m.channel_id);
    const listed =
      cfg.channels.includes(m.channel_id) ||
      (parent !== undefined && "parentId" in parent && parent.parentId !== null && cfg.channels.includes(parent.parentId));
    if (!(dm ? cfg.dms : mentioned || listed)) return;
    const reply = async (s: string) =>
      void (await poster.create(m.channel_id, s, { replyTo: m.id }).catch((err: unknown) => log.warn({ err }, "could not answer")));
    const text = m.content.replaceAll(new RegExp(`<@!?${botId}>`, "g"), "").trim();
    if (!text && m.attachments.length === 0) {
      count(Outcome.Invalid);
      return reply(Say.empty);
    }
    let media: Media[] = [];
    try {
      media = await attachmentsToMedia(mesh, m.attachments, cfg.max_image_bytes);
    } catch (err) {
      if (!(err instanceof AttachmentRefused)) throw err;
      count(Outcome.Invalid);
      return reply(err.message);
    }
    const conversation = await state.conversation(m.channel_id, m.author.id);
    await startTurn(
      { id: m.id, channelId: m.channel_id, conversation, replyTo: m.id },
      { id: m.author.id, name: m.author.username },
      text || "(image)",
      media,
      reply,
    );
  };

  const onInteraction = async (raw: unknown) => {
    if ((raw as { type?: unknown } | null)?.type !== 2) return; // only application commands
    const p = CommandInteraction.safeParse(raw);
    if (!p.success) {
      count(Outcome.Invalid);
      log.warn({ why: whyInvalid(p.error) }, "INTERACTION_CREATE refused: malformed");
      return;
    }
    const i = p.data;
    const user = interactionUser(i);
    await handleCommand(i, {
      poster,
      state,
      mesh,
      voice,
      log,
      count,
      ask: async (question) => {
        const conversation = await state.conversation(i.channel_id, user.id);
        const interaction = { appId: i.application_id, token: i.token, at: Date.now() };
        await startTurn(
          { id: i.id, channelId: i.channel_id, conversation, interaction },
          { id: user.id, name: user.username },
          question,
          [],
          (s) => poster.interactionReply(i.id, i.token, { content: s, ephemeral: true }),
          () => poster.interactionReply(i.id, i.token, { defer: true }),
        );
      },
    });
  };

  const onPartial = (o: OutboxMessage) => {
    const t = turns.get(o.in_reply_to);
    if (!t || o.final) return;
    const step = o.step ?? "reply";
    t.step = step;
    t.text.set(step, (t.text.get(step) ?? "") + o.text);
    t.editor ??= streamEditor(
      async (text) => {
        metrics.edits.inc({ door: DOOR });
        if (t.interaction) await poster.editOriginal(t.interaction.appId, t.interaction.token, { content: text });
        else if (t.streamed) await poster.edit(t.channelId, t.streamed, text);
        else t.streamed = await poster.create(t.channelId, text, { replyTo: t.replyTo });
      },
      cfg.edit_interval_ms,
      (err) => log.warn({ err, id: t.id }, "could not update the streamed reply"),
    );
    t.editor.update(preview(t.text.get(step)!));
  };

  /** Posts a final reply; returns the ids of the messages it posted. */
  const postFinal = async (o: OutboxMessage): Promise<string[]> => {
    const t = turns.get(o.in_reply_to);
    await t?.editor?.stop();
    const channelId = t?.channelId ?? channelOfConversation(o.conversation);
    if (!channelId) {
      log.warn({ conversation: o.conversation }, "outbox reply for a conversation that is not a Discord channel; dropped");
      return [];
    }
    const chunks = splitMessage(o.text || (o.error ? Say.failed : "…"));
    let files: RawFile[] = [];
    if (o.media?.length) {
      try {
        files = await mediaToFiles(mesh, o.media);
      } catch (err) {
        log.warn({ err }, "reply media unavailable");
        chunks.push("(The reply had images or audio that could not be fetched.)");
      }
    }
    const ids: string[] = [];
    const inter = t?.interaction && Date.now() - t.interaction.at < INTERACTION_TTL_MS ? t.interaction : undefined;
    for (const [n, chunk] of chunks.entries()) {
      const last = n === chunks.length - 1;
      if (inter) {
        if (n === 0) await poster.editOriginal(inter.appId, inter.token, { content: chunk });
        else await poster.followUp(inter.appId, inter.token, chunk, last ? files : undefined);
        if (n === 0 && last && files.length) await poster.followUp(inter.appId, inter.token, "", files);
      } else if (n === 0 && t?.streamed) {
        await poster.edit(channelId, t.streamed, chunk);
        ids.push(t.streamed);
        if (last && files.length) ids.push(await poster.create(channelId, "", { files }));
      } else {
        ids.push(
          await poster.create(channelId, chunk, {
            replyTo: n === 0 ? (t?.replyTo ?? o.in_reply_to) : undefined,
            files: last ? files : undefined,
          }),
        );
      }
    }
    if (t) {
      metrics.replySeconds.observe({ door: DOOR }, (Date.now() - t.started) / 1000);
      endTurn(t);
    }
    count(o.error ? Outcome.Failed : Outcome.Answered);
    voice.replied(channelId, o.text);
    return ids;
  };

  const safely = (what: string, f: (d: unknown) => Promise<void>) => (d: unknown) =>
    void f(d).catch((err: unknown) => {
      count(Outcome.Failed);
      log.error({ err }, `${what} failed`);
    });
  const handleMessage = safely("message", onMessage);
  const handleInteraction = safely("interaction", onInteraction);
  client.on("raw", (packet: { t?: string; d?: unknown }) => {
    if (packet.t === "MESSAGE_CREATE") handleMessage(packet.d);
    else if (packet.t === "INTERACTION_CREATE") handleInteraction(packet.d);
    else return;
    // The adapter owns these two events (validated above). discord.js's handlers, which run on
    // the same packet right after this listener, throw on a malformed payload (an uncaught
    // exception that would end the process) and only fill a cache the adapter does not use:
    // renamed, the packet is one discord.js ignores.
    packet.t = `LYRA_${packet.t}`;
  });
  client.on("error", (err) => log.error({ err }, "discord client error"));

  const partials = mesh.nc.subscribe(subjects.outboxPartialChannel(DISCORD_CHANNEL), {
    callback: (err, m) => {
      if (err) return;
      try {
        onPartial(decodeBody(OutboxMessage, m, "outbox partial"));
      } catch (e) {
        log.debug({ err: e }, "malformed partial ignored");
      }
    },
  });
  const outbox: OutboxReader = await readOutbox(mesh, cfg.durable, state, log, postFinal);
  await poster
    .registerCommands(appId, cfg.guild, SLASH_COMMANDS)
    .catch((err: unknown) => log.warn({ err }, "could not register the slash commands"));

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      client.removeAllListeners("raw");
      partials.unsubscribe();
      await outbox.stop();
      for (const t of [...turns.values()]) {
        await t.editor?.stop();
        endTurn(t);
      }
      voice.close();
      await client.destroy();
    })());
  return { botId, metrics, close, [Symbol.asyncDispose]: close };
}
