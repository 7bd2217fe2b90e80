/**
 * `lyra discord`: Discord ⇄ the mesh. Messages (mentions, DMs, configured channels) and `/ask` go
 * into the inbox with the Discord id as the message id; partials stream into one edited message;
 * final replies come from the outbox through a durable consumer (outbox.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Client, GatewayIntentBits } from "discord.js";
import { type Mesh, type Logger, decodeBody, lifecycle, subjects, type Drainable } from "../../../mesh/index.ts";
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
  /** How long drain() waits for the replies still coming before it closes, ms (default DEFAULT_DRAIN_GRACE_MS). */
  drainGraceMs?: number;
}

/** Within `lyra discord`'s own grace (run-until-signal.ts), so the adapter closes itself first. */
export const DEFAULT_DRAIN_GRACE_MS = 30_000;

/** drain(): takes no new message or command, waits for the final replies of the turns in flight, then closes. */
export interface DiscordAdapter extends Drainable {
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

interface Listening {
  /** Takes no new packet; resolves once the ones being handled are done (their turns started or refused). */
  stop(): Promise<void>;
}

/** Routes the gateway's MESSAGE_CREATE and INTERACTION_CREATE packets to the adapter, and only to it. */
function listen(client: Client, d: InboundDeps): Listening {
  let taking = true;
  const running = new Set<Promise<void>>();
  const safely = (what: string, f: (d: InboundDeps, raw: unknown) => Promise<void>) => (raw: unknown) => {
    if (!taking) return;
    const handled = f(d, raw)
      .catch((err: unknown) => {
        d.count(Outcome.Failed);
        d.log.error({ err }, `${what} failed`);
      })
      .finally(() => running.delete(handled));
    running.add(handled);
  };
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
  return {
    async stop() {
      taking = false; // the packets are still renamed above, so discord.js never handles them
      await Promise.all(running);
    },
  };
}

/** Waits until no turn waits for its reply, the grace period is over, or `cut` (a close()) comes. */
async function settle(turns: Turns, graceMs: number, cut: AbortSignal, log: Logger): Promise<void> {
  const settled = new AbortController();
  const over = sleep(graceMs, true, { signal: AbortSignal.any([cut, settled.signal]), ref: false }).catch(() => false);
  try {
    if (await Promise.race([turns.idle().then(() => false), over]))
      log.warn({ waiting: turns.all().length }, "drain: grace period over; closing with replies still coming");
  } finally {
    settled.abort();
  }
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
  const listening = listen(client, { mesh, config: cfg, log, client, botId, poster, state, turns, voice, count });

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

  const cut = new AbortController();
  const stop = async () => {
    client.removeAllListeners("raw");
    partials.unsubscribe();
    await outbox.close();
    for (const t of turns.all()) {
      await t.editor?.close();
      turns.end(t);
    }
    voice.close();
    await client.destroy();
  };
  const {
    close,
    drain,
    closed,
    [Symbol.asyncDispose]: dispose,
  } = lifecycle({
    close: stop,
    drain: async () => {
      await listening.stop();
      await settle(turns, o.drainGraceMs ?? DEFAULT_DRAIN_GRACE_MS, cut.signal, log);
      await stop();
    },
    cut: () => cut.abort(),
  });
  return { botId, metrics, close, drain, closed, [Symbol.asyncDispose]: dispose };
}
