/**
 * What goes out to Discord: the partial output streamed into one edited message, then the final
 * reply (split into Discord-sized chunks, with its media as attachments).
 */
import type { RawFile } from "discord.js";
import type { Mesh, Logger } from "../../../mesh/index.ts";
import type { OutboxMessage } from "../../../schemas/index.ts";
import { mediaToFiles } from "./media.ts";
import { DOOR, Outcome, type FrontdoorMetrics } from "./metrics.ts";
import type { Poster } from "./rest.ts";
import { Say } from "./say.ts";
import { splitMessage } from "./split.ts";
import { channelOfConversation } from "./state.ts";
import { preview, streamEditor } from "./stream.ts";
import type { Turn, Turns } from "./turns.ts";
import type { Voice } from "./voice.ts";

const INTERACTION_TTL_MS = 14 * 60_000;

export interface PartialDeps {
  turns: Turns;
  poster: Poster;
  metrics: FrontdoorMetrics;
  log: Logger;
  /** The least time between two edits of the streamed message, ms. */
  editIntervalMs: number;
}

/** Adds a partial to its turn's text and shows it: the interaction's reply, or one message edited as it grows. */
export function showPartial(d: PartialDeps, o: OutboxMessage): void {
  const t = d.turns.get(o.in_reply_to);
  if (!t || o.final) return;
  const step = o.step ?? "reply";
  t.text.set(step, (t.text.get(step) ?? "") + o.text);
  // The pipelined voice streams while the specialist still writes: once the voice has begun, it is what is shown.
  const shown = t.text.has("voice") ? "voice" : step;
  t.step = shown;
  t.editor ??= streamEditor(
    async (text) => {
      d.metrics.edits.inc({ door: DOOR });
      if (t.interaction) await d.poster.editOriginal(t.interaction.appId, t.interaction.token, { content: text });
      else if (t.streamed) await d.poster.edit(t.channelId, t.streamed, text);
      else t.streamed = await d.poster.create(t.channelId, text, { replyTo: t.replyTo });
    },
    d.editIntervalMs,
    (err) => d.log.warn({ err, id: t.id }, "could not update the streamed reply"),
  );
  t.editor.update(preview(t.text.get(shown)!));
}

export interface FinalDeps {
  mesh: Mesh;
  turns: Turns;
  poster: Poster;
  metrics: FrontdoorMetrics;
  log: Logger;
  voice: Voice;
  count: (outcome: Outcome) => void;
}

/** The reply's media as attachments; when they cannot be fetched, a last chunk says so. */
async function replyFiles(d: FinalDeps, o: OutboxMessage, chunks: string[]): Promise<RawFile[]> {
  if (!o.media?.length) return [];
  try {
    return await mediaToFiles(d.mesh, o.media);
  } catch (err) {
    d.log.warn({ err }, "reply media unavailable");
    chunks.push("(The reply had images or audio that could not be fetched.)");
    return [];
  }
}

/**
 * Posts the chunks: through the interaction while its token lasts, else as messages (the first
 * one replaces the streamed message when there is one); the files go with the last chunk.
 * Returns the ids of the messages posted in the channel.
 */
async function postChunks(
  poster: Poster,
  where: { channelId: string; inReplyTo: string; turn?: Turn },
  chunks: string[],
  files: RawFile[],
): Promise<string[]> {
  const { channelId, turn: t } = where;
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
          replyTo: n === 0 ? (t?.replyTo ?? where.inReplyTo) : undefined,
          files: last ? files : undefined,
        }),
      );
    }
  }
  return ids;
}

/** Posts a final reply and ends its turn; returns the ids of the messages it posted. */
export async function postFinal(d: FinalDeps, o: OutboxMessage): Promise<string[]> {
  const t = d.turns.get(o.in_reply_to);
  await t?.editor?.close();
  const channelId = t?.channelId ?? channelOfConversation(o.conversation);
  if (!channelId) {
    d.log.warn({ conversation: o.conversation }, "outbox reply for a conversation that is not a Discord channel; dropped");
    return [];
  }
  const chunks = splitMessage(o.text || (o.error ? Say.failed : "…"));
  const files = await replyFiles(d, o, chunks);
  const ids = await postChunks(d.poster, { channelId, inReplyTo: o.in_reply_to, turn: t }, chunks, files);
  if (t) {
    d.metrics.replySeconds.observe({ door: DOOR }, (Date.now() - t.started) / 1000);
    d.turns.end(t);
  }
  d.count(o.error ? Outcome.Failed : Outcome.Answered);
  d.voice.replied(channelId, o.text);
  return ids;
}
