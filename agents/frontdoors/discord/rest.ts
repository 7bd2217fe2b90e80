/**
 * Everything the adapter posts to Discord, over discord.js's REST client (which queues per route
 * and waits out 429s with their `retry_after`). Every body that carries content says
 * `allowed_mentions: { parse: [] }`: no text a model writes can ping anyone.
 */
import { Routes, type REST, type RawFile } from "discord.js";

/** Mentions in text stay inert: no @everyone/@here, no role or user pings, no reply ping. */
export const NO_PINGS = { parse: [] as string[], replied_user: false };

export interface Poster {
  /** Posts a message; returns its id. `replyTo` makes it a reply (no ping; no error when the message is gone). */
  create(channelId: string, content: string, o?: { replyTo?: string; files?: RawFile[] }): Promise<string>;
  edit(channelId: string, messageId: string, content: string): Promise<void>;
  typing(channelId: string): Promise<void>;
  /** Answers an interaction: type 4 (message) or 5 (deferred, "thinking"). */
  interactionReply(
    id: string,
    token: string,
    o: { content?: string; embeds?: unknown[]; ephemeral?: boolean; defer?: boolean },
  ): Promise<void>;
  /** Edits the interaction's first reply. */
  editOriginal(appId: string, token: string, o: { content?: string; embeds?: unknown[] }): Promise<void>;
  followUp(appId: string, token: string, content: string, files?: RawFile[]): Promise<void>;
  registerCommands(appId: string, guildId: string | undefined, commands: unknown[]): Promise<void>;
}

const EPHEMERAL = 1 << 6;

export function createPoster(rest: REST): Poster {
  return {
    async create(channelId, content, o = {}) {
      const body = {
        content,
        allowed_mentions: NO_PINGS,
        ...(o.replyTo ? { message_reference: { message_id: o.replyTo, fail_if_not_exists: false } } : {}),
        ...(o.files?.length ? { attachments: o.files.map((f, i) => ({ id: i, filename: f.name })) } : {}),
      };
      const res = (await rest.post(Routes.channelMessages(channelId), { body, ...(o.files?.length ? { files: o.files } : {}) })) as {
        id: string;
      };
      return res.id;
    },
    async edit(channelId, messageId, content) {
      await rest.patch(Routes.channelMessage(channelId, messageId), { body: { content, allowed_mentions: NO_PINGS } });
    },
    async typing(channelId) {
      await rest.post(Routes.channelTyping(channelId));
    },
    async interactionReply(id, token, o) {
      const flags = o.ephemeral ? EPHEMERAL : 0;
      const data = o.defer ? { flags } : { content: o.content, embeds: o.embeds, flags, allowed_mentions: NO_PINGS };
      await rest.post(Routes.interactionCallback(id, token), { body: { type: o.defer ? 5 : 4, data }, auth: false });
    },
    async editOriginal(appId, token, o) {
      await rest.patch(Routes.webhookMessage(appId, token, "@original"), { body: { ...o, allowed_mentions: NO_PINGS }, auth: false });
    },
    async followUp(appId, token, content, files) {
      const body = {
        content,
        allowed_mentions: NO_PINGS,
        ...(files?.length ? { attachments: files.map((f, i) => ({ id: i, filename: f.name })) } : {}),
      };
      await rest.post(Routes.webhook(appId, token), { body, auth: false, ...(files?.length ? { files } : {}) });
    },
    async registerCommands(appId, guildId, commands) {
      await rest.put(guildId ? Routes.applicationGuildCommands(appId, guildId) : Routes.applicationCommands(appId), { body: commands });
    },
  };
}
