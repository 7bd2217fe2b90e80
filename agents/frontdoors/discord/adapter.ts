/**
 * `lyra discord`: Discord ⇄ the mesh. Messages (mentions, DMs, configured channels) and `/ask` go
 * into the inbox with the Discord id as the message id; partials stream into one edited message;
 * final replies come from the outbox through a durable consumer (outbox.ts).
 */
import { Client, GatewayIntentBits } from "discord.js";
import { type Mesh, type Logger, decodeBody, lifecycle, subjects, type Closable } from "../../../mesh/index.ts";
import { OutboxMessage, type DiscordConfig } from "../../../schemas/index.ts";
import { onInteraction, onMessage, type InboundDeps } from "./inbound.ts";
import { channelSlots, userRateLimiter } from "./limits.ts";
import { createFrontdoorMetrics, DOOR, Outcome, type FrontdoorMetrics } from "./metrics.ts";
import { DISCORD_CHANNEL, readOutbox, type OutboxReader } from "./outbox.ts";
import { postFinal, showPartial } from "./reply.ts";
import { createPoster, type Poster } from "./rest.ts";
import { openState, type DiscordState } from "./state.ts";
import { SLASH_COMMANDS } from "./commands.ts";
import { createTurns, type Turns } from "./turns.ts";
import { createVoice, type Voice } from "./voice.ts";

export { Say } from "./say.ts";
export type { Turn } from "./turns.ts";

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

export interface DiscordAdapter extends Closable {
  /** The bot's user id (after login). */
  readonly botId: string;
  readonly metrics: FrontdoorMetrics;
}

/** A Discord client logged in and ready; a refused login leaves nothing running. */
async function connectClient(o: DiscordAdapterOptions): Promise<{ client: Client; voice: Voice }> {
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
  const voice: Voice = createVoice({
    mesh: o.mesh,
    client,
    tenant: o.tenant,
    server: o.config.speech_server,
    log: o.log,
    onAudio: o.onAudio,
  });
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
  return { client, voice };
}

/** Routes the gateway's MESSAGE_CREATE and INTERACTION_CREATE packets to the adapter, and only to it. */
function listen(client: Client, d: InboundDeps): void {
  const safely = (what: string, f: (d: InboundDeps, raw: unknown) => Promise<void>) => (raw: unknown) =>
    void f(d, raw).catch((err: unknown) => {
      d.count(Outcome.Failed);
      d.log.error({ err }, `${what} failed`);
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
  client.on("error", (err) => d.log.error({ err }, "discord client error"));
}

export async function startDiscordAdapter(o: DiscordAdapterOptions): Promise<DiscordAdapter> {
  const { mesh, config: cfg, log } = o;
  const metrics = o.metrics ?? createFrontdoorMetrics();
  const state: DiscordState = await openState(mesh, cfg.conversation);
  const { client, voice } = await connectClient(o);
  const poster: Poster = createPoster(client.rest);
  const count = (outcome: Outcome) => metrics.requests.inc({ door: DOOR, outcome });
  const botId = client.user!.id;
  const appId = client.application!.id;
  log.info({ bot: client.user!.tag, channels: cfg.channels.length }, "discord adapter connected");
  const turns: Turns = createTurns({
    mesh,
    log,
    poster,
    limiter: userRateLimiter(cfg.user_rate.messages, cfg.user_rate.window_s * 1000),
    slots: channelSlots(cfg.channel_concurrency),
    metrics,
    count,
  });
  listen(client, { mesh, config: cfg, log, client, botId, poster, state, turns, voice, count });

  const partialDeps = { turns, poster, metrics, log, editIntervalMs: cfg.edit_interval_ms };
  const partials = mesh.nc.subscribe(subjects.outboxPartialChannel(DISCORD_CHANNEL), {
    callback: (err, m) => {
      if (err) return;
      try {
        showPartial(partialDeps, decodeBody(OutboxMessage, m, "outbox partial"));
      } catch (e) {
        log.debug({ err: e }, "malformed partial ignored");
      }
    },
  });
  const finalDeps = { mesh, turns, poster, metrics, log, voice, count };
  const outbox: OutboxReader = await readOutbox(mesh, cfg.durable, state, log, (m) => postFinal(finalDeps, m));
  await poster
    .registerCommands(appId, cfg.guild, SLASH_COMMANDS)
    .catch((err: unknown) => log.warn({ err }, "could not register the slash commands"));

  const {
    close,
    closed,
    [Symbol.asyncDispose]: dispose,
  } = lifecycle({
    close: async () => {
      client.removeAllListeners("raw");
      partials.unsubscribe();
      await outbox.close();
      for (const t of turns.all()) {
        await t.editor?.close();
        turns.end(t);
      }
      voice.close();
      await client.destroy();
    },
  });
  return { botId, metrics, close, closed, [Symbol.asyncDispose]: dispose };
}
