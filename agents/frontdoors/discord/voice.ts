/**
 * Voice: after `/join`, Lyra's replies in the channel where it was asked are spoken in the voice
 * channel. The words become audio through the mesh's `speak` tool (asked for Ogg Opus, which
 * @discordjs/voice plays by demuxing alone: no ffmpeg, no Opus encoder, nothing native to build).
 */
import { Readable } from "node:stream";
import {
  AudioPlayerStatus,
  createAudioPlayer,
  createAudioResource,
  joinVoiceChannel,
  StreamType,
  type AudioPlayer,
  type VoiceConnection,
} from "@discordjs/voice";
import type { Client } from "discord.js";
import { readMedia, type Mesh, type Logger } from "../../../mesh/index.ts";
import { Media } from "../../../schemas/index.ts";
import { createMcpClient, listTools, meshRequest } from "../../../tools/caller.ts";

export const SPEAK_TOOL = "speak";
const SPEAK_TIMEOUT_MS = 60_000;
/** Replies longer than this are not spoken whole (the speech tool's input limit). */
const MAX_SPOKEN_CHARS = 4000;

export interface Voice {
  /** Joins the user's (or the named) voice channel; returns what to tell the user. */
  join(guildId: string, textChannelId: string, userId: string, channelId?: string): Promise<string>;
  leave(guildId: string): string;
  /** A reply was posted in `textChannelId`: speak it when a voice session listens to that channel. */
  replied(textChannelId: string, text: string): void;
  close(): void;
}

export interface VoiceOptions {
  mesh: Mesh;
  client: Client;
  tenant: string;
  /** The tool server with the `speak` tool. */
  server: string;
  log: Logger;
  /** Called with the audio of each spoken reply, before it plays. */
  onAudio?: (textChannelId: string, audio: { mime: string; bytes: Uint8Array }) => void;
}

interface Session {
  textChannelId: string;
  connection: VoiceConnection;
  player: AudioPlayer;
  /** Replies are spoken one after another. */
  queue: Promise<void>;
}

export function createVoice(o: VoiceOptions): Voice {
  const mcp = createMcpClient(o.mesh, { tenant: o.tenant });
  const sessions = new Map<string, Session>();
  const hasSpeak = async () => {
    try {
      return (await listTools(mcp, o.server, { timeoutMs: 3000 })).some((t) => t.name === SPEAK_TOOL);
    } catch {
      return false;
    }
  };
  const speak = async (s: Session, text: string) => {
    const res = await mcp.request(
      o.server,
      meshRequest("tools/call", { name: SPEAK_TOOL, arguments: { text: text.slice(0, MAX_SPOKEN_CHARS), format: "opus" } }),
      { timeoutMs: SPEAK_TIMEOUT_MS },
    );
    if ("error" in res) throw new Error(`speak failed: ${res.error.message}`);
    const r = res.result as { isError?: boolean; structuredContent?: { media?: unknown[] }; content?: { type?: string; text?: string }[] };
    if (r.isError) throw new Error(`speak failed: ${r.content?.find((c) => c.type === "text")?.text ?? "no reason given"}`);
    const media = Media.safeParse(r.structuredContent?.media?.[0]);
    if (!media.success || media.data.kind !== "audio") throw new Error("speak answered without an audio media item");
    const bytes = await readMedia(o.mesh, media.data);
    o.onAudio?.(s.textChannelId, { mime: media.data.mime, bytes });
    const resource = createAudioResource(Readable.from([Buffer.from(bytes)]), {
      inputType: media.data.mime === "audio/ogg" ? StreamType.OggOpus : StreamType.Arbitrary,
    });
    s.player.play(resource);
    await new Promise<void>((resolve) => {
      const done = () => {
        s.player.off(AudioPlayerStatus.Idle, done);
        s.player.off("error", done);
        resolve();
      };
      s.player.on(AudioPlayerStatus.Idle, done);
      s.player.on("error", done);
    });
  };
  return {
    async join(guildId, textChannelId, userId, channelId) {
      const guild = o.client.guilds.cache.get(guildId);
      if (!guild) return "I can't see this server; invite me again with the voice permissions.";
      const target = channelId ?? guild.voiceStates.cache.get(userId)?.channelId ?? undefined;
      if (!target) return "Join a voice channel first, or name one: /join channel:<voice channel>.";
      if (!(await hasSpeak()))
        return (
          `There is no \`${SPEAK_TOOL}\` tool on the mesh (tool server '${o.server}'), ` +
          `so I can't speak. Start the speech tool server, then /join again.`
        );
      sessions.get(guildId)?.connection.destroy();
      const connection = joinVoiceChannel({ channelId: target, guildId, adapterCreator: guild.voiceAdapterCreator, selfDeaf: true });
      const player = createAudioPlayer();
      player.on("error", (err) => o.log.warn({ err }, "voice playback failed"));
      connection.subscribe(player);
      sessions.set(guildId, { textChannelId, connection, player, queue: Promise.resolve() });
      return `Joined <#${target}>: I'll speak my replies from this channel there. /leave to stop.`;
    },
    leave(guildId) {
      const s = sessions.get(guildId);
      if (!s) return "I am not in a voice channel here.";
      sessions.delete(guildId);
      s.player.stop(true);
      s.connection.destroy();
      return "Left the voice channel.";
    },
    replied(textChannelId, text) {
      if (!text.trim()) return;
      for (const s of sessions.values()) {
        if (s.textChannelId !== textChannelId) continue;
        s.queue = s.queue.then(() => speak(s, text)).catch((err: unknown) => o.log.warn({ err }, "could not speak the reply"));
      }
    },
    close() {
      for (const [g] of sessions) this.leave(g);
      void mcp.close(); // its work is done before the promise returns
    },
  };
}
