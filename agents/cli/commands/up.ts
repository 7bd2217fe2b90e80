import { randomUUID } from "node:crypto";
import { subjects } from "../../../mesh/subjects.ts";
import { createLogger } from "../../../mesh/logger.ts";
import { readConversation, startConductor } from "../../../mesh/conductor/index.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import type { MeshConfig } from "../../../schemas/config.ts";
import type { Mesh } from "../../../mesh/connect.ts";
import { startToolHost, type ToolHost } from "../../../tools/index.ts";
import { startAgentHost, type AgentHost } from "../../host/host.ts";
import { keysFromConfig, serveFromConfig } from "../../frontdoors/openai/from-config.ts";
import type { ServeServer } from "../../frontdoors/openai/index.ts";
import { conductorOptions } from "../../host/committee.ts";
import { defineCommand } from "../command.ts";
import { configHelp, configOption, connectWithConfig, loadConfig, untilSignal } from "../config.ts";
import { startLocalNats, type LocalNats } from "../natsd.ts";
import { formatEvent } from "./log.ts";
import { DISCORD_TOKEN_ENV, startDiscordFromConfig } from "./discord.ts";
import type { DiscordAdapter } from "../../frontdoors/discord/index.ts";

export const DEMO_CONVERSATION = [
  "How do I keep a basil plant alive on a windowsill?",
  "Why do we care so much about keeping things alive?",
  "What time is it now in UTC? I want to water it at the right hour.",
];

export const up = defineCommand({
  name: "up",
  summary: "A whole mesh on this machine: nats-server (JetStream), the agent host for every host in the config, and the conductor.",
  usage: "[--config FILE] [--scripted] [--demo]",
  options: { ...configOption, scripted: { type: "boolean" }, demo: { type: "boolean" } },
  help: {
    ...configHelp,
    scripted: "use the scripted development backend even when Ollama is reachable",
    demo: "send a short conversation through the mesh, show the streamed replies and the log, then stop",
  },
  details:
    "Uses $NATS_URL when set, else starts nats-server on 4222 (or the next free port).\n" +
    "Roles of the dev config run on real Ollama ($OLLAMA_HOST or 127.0.0.1:11434) when it answers and has\n" +
    "their models pulled; otherwise on the scripted backend, which labels every reply 'backend: scripted'.",
  async run(values) {
    const log = createLogger({ level: process.env.LYRA_LOG_LEVEL ?? (values.demo ? "warn" : "info") });
    let cfg = await loadConfig(values);
    if (cfg.serve) keysFromConfig(cfg); // the endpoint has no keys: say so before starting anything
    let nats: LocalNats | undefined;
    if (!process.env.NATS_URL) nats = await startLocalNats();
    const url = nats?.url ?? process.env.NATS_URL!;
    cfg = { ...cfg, nats: { ...cfg.nats, servers: url.split(",") } };
    if (!values.scripted) cfg = await preferOllama(cfg, say);
    else say("using the scripted backend (--scripted)");
    const mesh = await connectWithConfig(cfg, "lyra-up", log);
    const hosts: AgentHost[] = [];
    let tools: ToolHost | undefined;
    let serve: ServeServer | undefined;
    let discord: DiscordAdapter | undefined;
    try {
      // The tool servers first, so the specialists' first tool listing finds them.
      tools = await startToolHost(mesh, { tenant: cfg.mesh.name, host: "local", servers: cfg.tools.servers, listTtlS: cfg.tools.list_ttl_s, log });
      for (const host of Object.keys(cfg.hosts)) hosts.push(await startAgentHost({ config: cfg, host, mesh, log, metricsPort: null }));
      const conductor = await startConductor(mesh, conductorOptions(cfg, mesh, log));
      // The OpenAI-compatible endpoint, when the config has a serve section.
      if (cfg.serve) {
        serve = await serveFromConfig(cfg, mesh, log);
        say(`OpenAI-compatible API on ${serve.url} (model 'lyra', or 'lyra/<role>'; keys from $${cfg.serve.keys_env})`);
      }
      if (cfg.discord && process.env[DISCORD_TOKEN_ENV]) {
        // A development mesh stays up without Discord (a wrong token, no network); `lyra discord` fails instead.
        try {
          discord = await startDiscordFromConfig(cfg, mesh, process.env[DISCORD_TOKEN_ENV], log);
          say("Discord front door connected: mention the bot, DM it, or use /ask");
        } catch (err) {
          say(`the Discord front door could not start: ${(err as Error).message} (check ${DISCORD_TOKEN_ENV})`);
        }
      } else if (cfg.discord) say(`the config has a discord section but ${DISCORD_TOKEN_ENV} is not set: the Discord front door stays off`);
      say(`mesh up on ${url}: roles ${hosts.flatMap((h) => h.responders.map((r) => `${r.role}@${h.host}`)).join(", ")}; tool servers ${tools.servers().map((t) => t.server).join(", ") || "none"}`);
      if (values.demo) {
        await runDemo(mesh);
      } else {
        const env = nats ? `NATS_URL=${url} ` : "";
        say(
          [
            "try, in another terminal:",
            `  ${env}npx lyra ask "How do I keep basil alive?"`,
            `  ${env}npx lyra tap                      # decoded live traffic`,
            `  ${env}npx lyra status                   # agents, models, load, tool servers`,
            `  ${env}npx lyra ask "What time is it in UTC?"   # the pragmatist uses the clock tool`,
            `  ${env}npx lyra tools call clock now --args '{"timezone":"UTC"}'`,
            `  nats --server ${url} sub 'lyra.>'`,
            `  nats --server ${url} micro ls agents`,
            `  nats --server ${url} sub '${subjects.heartbeatAll}'      # heartbeats`,
            `  nats --server ${url} req --wait-for-empty lyra.voice 'hello'`,
            "Ctrl-C stops everything.",
          ].join("\n"),
        );
        await untilSignal();
        say("stopping…");
      }
      await serve?.drain();
      await discord?.close();
      await conductor.drain();
    } finally {
      await serve?.close();
      await discord?.close();
      await Promise.all(hosts.map((h) => h.drain()));
      await tools?.drain();
      await mesh.drain();
      await nats?.stop();
    }
    return 0;
  },
});

function say(s: string): void {
  process.stderr.write(`lyra up: ${s}\n`);
}

/** Switches scripted roles to Ollama when Ollama answers and has every model they name. */
async function preferOllama(cfg: MeshConfig, tell: (s: string) => void): Promise<MeshConfig> {
  const scripted = Object.entries(cfg.roles).filter(([, r]) => r.backend === "scripted");
  if (scripted.length === 0) return cfg;
  const url = process.env.OLLAMA_HOST ?? Object.values(cfg.hosts)[0]?.ollama_url ?? "http://127.0.0.1:11434";
  let models: string[] = [];
  try {
    const res = await fetch(new URL("/api/tags", url.startsWith("http") ? url : `http://${url}`), { signal: AbortSignal.timeout(1500) });
    models = ((await res.json()) as { models?: { name: string }[] }).models?.map((m) => m.name) ?? [];
  } catch {
    tell(`Ollama is not reachable at ${url}: using the scripted development backend (replies say 'backend: scripted')`);
    return cfg;
  }
  const missing = scripted.map(([, r]) => r.model).filter((m) => !models.includes(m) && !models.includes(`${m}:latest`));
  if (missing.length) {
    tell(`Ollama at ${url} lacks ${[...new Set(missing)].join(", ")} ('ollama pull' them): using the scripted development backend`);
    return cfg;
  }
  tell(`using real Ollama at ${url}`);
  const roles = Object.fromEntries(Object.entries(cfg.roles).map(([n, r]) => [n, r.backend === "scripted" ? { ...r, backend: "ollama" as const } : r]));
  return { ...cfg, roles };
}

async function runDemo(mesh: Mesh): Promise<void> {
  const conversation = `demo-${randomUUID().slice(0, 8)}`;
  const out = process.stdout;
  for (const text of DEMO_CONVERSATION) {
    const id = `d${randomUUID().slice(0, 12)}`;
    out.write(`\nyou: ${text}\n`);
    const watch = watchReplies(mesh, "cli", conversation, id);
    await mesh.nc.flush();
    await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: "demo" }, text, ts: Date.now() });
    let step: string | undefined;
    for await (const o of watch) {
      if (o.final) {
        out.write(`\n  ✓ reply stored in the outbox (specialist: ${o.specialist}${o.error ? `; failed: ${o.error}` : ""})\n`);
        break;
      }
      if (o.step !== step) out.write(`${step ? "\n" : ""}  [${o.role ?? o.step}] `);
      step = o.step;
      out.write(o.text);
    }
  }
  out.write(`\n--- conversation log (lyra log ${conversation}) ---\n`);
  for (const e of await readConversation(mesh, conversation)) out.write(formatEvent(e) + "\n");
}
