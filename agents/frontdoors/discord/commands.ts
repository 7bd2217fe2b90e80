/** The slash commands: /ask, /forget, /status, /join, /leave. */
import { discoverRoles, type Mesh, type Logger } from "../../../mesh/index.ts";
import { discoverToolServers } from "../../../tools/caller.ts";
import { Outcome } from "./metrics.ts";
import { interactionUser, type CommandInteraction } from "./payloads.ts";
import type { Poster } from "./rest.ts";
import type { DiscordState } from "./state.ts";
import type { Voice } from "./voice.ts";

const STRING = 3;
const CHANNEL = 7;
const VOICE_CHANNEL_TYPES = [2, 13];

/** Application command definitions (bulk-overwritten at start). */
export const SLASH_COMMANDS = [
  {
    name: "ask",
    description: "Ask Lyra something",
    type: 1,
    options: [{ type: STRING, name: "question", description: "Your question", required: true, max_length: 4000 }],
  },
  { name: "forget", description: "Start a new conversation in this channel (Lyra forgets what was said here)", type: 1 },
  { name: "status", description: "The mesh's health: roles, models, hosts and tool servers", type: 1 },
  {
    name: "join",
    description: "Lyra joins a voice channel and speaks her replies from this channel",
    type: 1,
    dm_permission: false,
    options: [
      {
        type: CHANNEL,
        name: "channel",
        description: "The voice channel (default: the one you are in)",
        required: false,
        channel_types: VOICE_CHANNEL_TYPES,
      },
    ],
  },
  { name: "leave", description: "Lyra leaves the voice channel", type: 1, dm_permission: false },
];

export interface CommandContext {
  poster: Poster;
  state: DiscordState;
  mesh: Mesh;
  voice: Voice;
  log: Logger;
  count(outcome: Outcome): void;
  ask(question: string): Promise<void>;
}

export async function handleCommand(i: CommandInteraction, c: CommandContext): Promise<void> {
  const say = (content: string, ephemeral = false) => c.poster.interactionReply(i.id, i.token, { content, ephemeral });
  const option = (name: string) => i.data.options.find((o) => o.name === name)?.value;
  switch (i.data.name) {
    case "ask": {
      const q = option("question");
      if (typeof q !== "string" || !q.trim()) {
        c.count(Outcome.Invalid);
        return say("Please give /ask a question.", true);
      }
      return c.ask(q.trim());
    }
    case "forget": {
      c.count(Outcome.Command);
      await c.state.forget(i.channel_id, interactionUser(i).id);
      return say("Starting a new conversation here: I won't bring up what was said before.");
    }
    case "status": {
      c.count(Outcome.Command);
      await c.poster.interactionReply(i.id, i.token, { defer: true });
      return c.poster.editOriginal(i.application_id, i.token, { embeds: [await statusEmbed(c.mesh)] });
    }
    case "join": {
      c.count(Outcome.Command);
      if (!i.guild_id) return say("I can only join voice channels in a server.", true);
      const chosen = option("channel");
      // Looking for the speak tool may take longer than the 3 s Discord gives a first answer.
      await c.poster.interactionReply(i.id, i.token, { defer: true, ephemeral: true });
      const said = await c.voice.join(i.guild_id, i.channel_id, interactionUser(i).id, typeof chosen === "string" ? chosen : undefined);
      return c.poster.editOriginal(i.application_id, i.token, { content: said });
    }
    case "leave": {
      c.count(Outcome.Command);
      if (!i.guild_id) return say("I am not in a voice channel here.", true);
      return say(c.voice.leave(i.guild_id), true);
    }
    default:
      c.count(Outcome.Invalid);
      return say(`I don't know the command /${i.data.name}.`, true);
  }
}

const GREEN = 0x2ecc71;
const AMBER = 0xf1c40f;
const RED = 0xe74c3c;

/** The mesh's health in one embed: what `lyra status` shows, in short. */
export async function statusEmbed(mesh: Mesh, timeoutMs = 1500): Promise<Record<string, unknown>> {
  const [roles, servers] = await Promise.all([discoverRoles(mesh, { timeoutMs }), discoverToolServers(mesh, { timeoutMs })]);
  const degraded = roles.filter((r) => (r.stats.data as { degraded?: boolean } | null)?.degraded);
  const down = servers.filter((s) => s.state !== "up");
  const lines = roles
    .map((r) => {
      const d = (r.stats.data ?? {}) as { model?: string; in_flight?: number; degraded?: boolean };
      return `${d.degraded ? "⚠️" : "✅"} **${r.role}** @ ${r.host}: ${d.model ?? r.metadata.model ?? "?"} (${d.in_flight ?? 0} running)`;
    })
    .sort();
  const tools = servers.map((s) => `${s.state === "up" ? "✅" : "⚠️"} ${s.server} @ ${s.host}: ${s.state}, ${s.tools.length} tools`).sort();
  return {
    title: roles.length ? "Lyra mesh: up" : "Lyra mesh: no agents answer",
    color: roles.length === 0 ? RED : degraded.length || down.length ? AMBER : GREEN,
    fields: [
      { name: `Roles (${roles.length})`, value: clip(lines.join("\n") || "none: start one with `lyra agent` or `lyra up`") },
      { name: `Tool servers (${servers.length})`, value: clip(tools.join("\n") || "none") },
    ],
    timestamp: new Date().toISOString(),
  };
}

/** An embed field holds at most 1,024 characters. */
const clip = (s: string) => (s.length <= 1024 ? s : `${s.slice(0, 1020)}\n…`);
