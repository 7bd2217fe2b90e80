/**
 * What comes in from Discord: a message (a mention, a DM, a message in a configured channel) or
 * an application command. Each is validated, then becomes a turn or a command.
 */
import type { Client } from "discord.js";
import type { Mesh, Logger } from "../../../mesh/index.ts";
import type { DiscordConfig, Media } from "../../../schemas/index.ts";
import { handleCommand } from "./commands.ts";
import { AttachmentRefused, attachmentsToMedia } from "./media.ts";
import { Outcome } from "./metrics.ts";
import { CommandInteraction, interactionUser, MessageCreate, whyInvalid } from "./payloads.ts";
import type { Poster } from "./rest.ts";
import { Say } from "./say.ts";
import type { DiscordState } from "./state.ts";
import type { Turns } from "./turns.ts";
import type { Voice } from "./voice.ts";

export interface InboundDeps {
  mesh: Mesh;
  config: DiscordConfig;
  log: Logger;
  client: Client;
  botId: string;
  poster: Poster;
  state: DiscordState;
  turns: Turns;
  voice: Voice;
  count: (outcome: Outcome) => void;
}

/** Whether the adapter answers a message: DMs when configured, else mentions and listed channels (or their threads). */
function addressed(d: InboundDeps, m: MessageCreate): boolean {
  if (m.guild_id === undefined) return d.config.dms;
  if (m.mentions.some((u) => u.id === d.botId)) return true;
  const parent = d.client.channels.cache.get(m.channel_id);
  return (
    d.config.channels.includes(m.channel_id) ||
    (parent !== undefined && "parentId" in parent && parent.parentId !== null && d.config.channels.includes(parent.parentId))
  );
}

/** MESSAGE_CREATE: a message for the adapter becomes a turn. */
export async function onMessage(d: InboundDeps, raw: unknown): Promise<void> {
  const p = MessageCreate.safeParse(raw);
  if (!p.success) {
    d.count(Outcome.Invalid);
    d.log.warn({ why: whyInvalid(p.error) }, "MESSAGE_CREATE refused: malformed");
    return;
  }
  const m = p.data;
  if (m.author.bot || m.author.id === d.botId || (m.type !== undefined && m.type !== 0 && m.type !== 19)) return;
  if (!addressed(d, m)) return;
  const reply = async (s: string) =>
    void (await d.poster.create(m.channel_id, s, { replyTo: m.id }).catch((err: unknown) => d.log.warn({ err }, "could not answer")));
  const text = m.content.replaceAll(new RegExp(`<@!?${d.botId}>`, "g"), "").trim();
  if (!text && m.attachments.length === 0) {
    d.count(Outcome.Invalid);
    return reply(Say.empty);
  }
  let media: Media[] = [];
  try {
    media = await attachmentsToMedia(d.mesh, m.attachments, d.config.max_image_bytes);
  } catch (err) {
    if (!(err instanceof AttachmentRefused)) throw err;
    d.count(Outcome.Invalid);
    return reply(err.message);
  }
  const conversation = await d.state.conversation(m.channel_id, m.author.id);
  await d.turns.start({
    turn: { id: m.id, channelId: m.channel_id, conversation, replyTo: m.id },
    user: { id: m.author.id, name: m.author.username },
    text: text || "(image)",
    media,
    reply,
  });
}

/** INTERACTION_CREATE: an application command; `/ask` becomes a turn. */
export async function onInteraction(d: InboundDeps, raw: unknown): Promise<void> {
  if ((raw as { type?: unknown } | null)?.type !== 2) return; // only application commands
  const p = CommandInteraction.safeParse(raw);
  if (!p.success) {
    d.count(Outcome.Invalid);
    d.log.warn({ why: whyInvalid(p.error) }, "INTERACTION_CREATE refused: malformed");
    return;
  }
  const i = p.data;
  const user = interactionUser(i);
  await handleCommand(i, {
    poster: d.poster,
    state: d.state,
    mesh: d.mesh,
    voice: d.voice,
    log: d.log,
    count: d.count,
    ask: async (question) => {
      const conversation = await d.state.conversation(i.channel_id, user.id);
      const interaction = { appId: i.application_id, token: i.token, at: Date.now() };
      await d.turns.start({
        turn: { id: i.id, channelId: i.channel_id, conversation, interaction },
        user: { id: user.id, name: user.username },
        text: question,
        media: [],
        reply: (s) => d.poster.interactionReply(i.id, i.token, { content: s, ephemeral: true }),
        accepted: () => d.poster.interactionReply(i.id, i.token, { defer: true }),
      });
    },
  });
}
