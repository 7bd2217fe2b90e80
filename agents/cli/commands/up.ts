import { subjects, createLogger, type Logger, type Mesh, startConductor, type Conductor } from "../../../mesh/index.ts";
import type { MeshConfig } from "../../../schemas/index.ts";
import { startToolHost, type ToolHost } from "../../../tools/index.ts";
import { conductorOptions, startAgentHost, type AgentHost } from "../../host/index.ts";
import { keysFromConfig, serveFromConfig } from "../../frontdoors/openai/index.ts";
import type { ServeServer } from "../../frontdoors/openai/index.ts";
import { defineCommand } from "../command.ts";
import { configHelp, configOption, connectWithConfig, loadConfig, watchSignals, type StopSignals } from "../config.ts";
import { stopInOrder } from "../run-until-signal.ts";
import { startLocalNats, type LocalNats } from "../natsd.ts";
import type { LocalOllama } from "../ollamad.ts";
import { ensureOllamas, freshMemory, scriptedConfig } from "../up-backends.ts";
import { runDemo } from "../demo.ts";
import { DISCORD_TOKEN_ENV, startDiscordFromConfig } from "./discord.ts";
import type { DiscordAdapter } from "../../frontdoors/discord/index.ts";

export { DEMO_CONVERSATION } from "../demo.ts";

export const up = defineCommand({
  name: "up",
  summary:
    "A whole mesh on this machine: nats-server (JetStream), Ollama, " +
    "the tool servers, the agent host for every host in the config, and the conductor.",
  usage: "[--config FILE] [--scripted] [--demo]",
  options: { ...configOption, scripted: { type: "boolean" }, demo: { type: "boolean" } },
  help: {
    ...configHelp,
    scripted: "run every role that has script rules on the labelled scripted backend (no model, no Ollama)",
    demo: "send a short conversation through the mesh, show the streamed replies and the log, then stop",
  },
  details:
    "Uses $NATS_URL when set, else starts nats-server on 4222 (or the next free port).\n" +
    "Roles on the ollama backend use $OLLAMA_HOST or the host's ollama_url; when nothing answers there (loopback)\n" +
    "and ollama is installed, it starts 'ollama serve' and stops it at the end. Missing models: it says what to pull.\n" +
    "--scripted needs no Ollama: every reply says 'backend: scripted'.",
  async run(values) {
    // The handlers go in before anything starts: a signal at any moment then stops what was started.
    const stop = watchSignals();
    try {
      return await runUp(values, stop);
    } finally {
      stop[Symbol.dispose]();
    }
  },
});

async function runUp(values: Record<string, unknown>, stop: StopSignals): Promise<number> {
  const log = createLogger({ level: process.env.LYRA_LOG_LEVEL ?? (values.demo ? "warn" : "info") });
  let cfg = await loadConfig(values);
  if (cfg.serve) keysFromConfig(cfg); // the endpoint has no keys: say so before starting anything
  let nats: LocalNats | undefined;
  if (!process.env.NATS_URL) nats = await startLocalNats();
  const url = nats?.url ?? process.env.NATS_URL!;
  cfg = { ...cfg, nats: { ...cfg.nats, servers: url.split(",") } };
  let ollamas: LocalOllama[] = [];
  let memory: ReturnType<typeof freshMemory> | undefined;
  try {
    if (values.scripted) {
      cfg = scriptedConfig(cfg);
      say("using the scripted development backend (--scripted): every reply says 'backend: scripted'");
    } else ollamas = await ensureOllamas(cfg, say);
  } catch (err) {
    await nats?.close();
    throw err;
  }
  if (stop.signal.aborted) {
    await Promise.all([nats?.close(), ...ollamas.map((o) => o.close())]);
    return 0;
  }
  // The demo remembers into a fresh store, so what it recalls was told in this run.
  if (values.demo) cfg = (memory = freshMemory(cfg)).cfg;
  // The memory server embeds with the Ollama the roles use.
  const toolEnv = { ...process.env, OLLAMA_HOST: process.env.OLLAMA_HOST ?? ollamas[0]?.url };
  const stopStarted = async () => {
    await nats?.close();
    await Promise.all(ollamas.map((o) => o.close()));
    memory?.remove();
  };
  const mesh = await connectWithConfig(cfg, "lyra-up", log).catch(async (err: unknown) => {
    await stopStarted();
    throw err;
  });
  const hosts: AgentHost[] = [];
  let tools: ToolHost | undefined;
  let serve: ServeServer | undefined;
  let discord: DiscordAdapter | undefined;
  let conductor: Conductor | undefined;
  try {
    // The tool servers first, so the specialists' first tool listing finds them.
    tools = await startToolHost(mesh, {
      tenant: cfg.mesh.name,
      host: "local",
      servers: cfg.tools.servers,
      listTtlS: cfg.tools.list_ttl_s,
      cache: cfg.tools.cache,
      env: toolEnv,
      log,
    });
    for (const host of Object.keys(cfg.hosts)) {
      if (stop.signal.aborted) return 0;
      hosts.push(await startAgentHost({ config: cfg, host, mesh, log, metricsPort: null }));
    }
    if (stop.signal.aborted) return 0;
    conductor = await startConductor(mesh, conductorOptions(cfg, mesh, log));
    // The OpenAI-compatible endpoint, when the config has a serve section.
    if (cfg.serve) {
      serve = await serveFromConfig(cfg, mesh, log);
      say(`OpenAI-compatible API on ${serve.url} (model 'lyra', or 'lyra/<role>'; keys from $${cfg.serve.keys_env})`);
    }
    if (stop.signal.aborted) return 0;
    discord = await startDiscordIfSet(cfg, mesh, log);
    say(
      `mesh up on ${url}: roles ${hosts.flatMap((h) => h.responders.map((r) => `${r.role}@${h.host}`)).join(", ")}; tool servers ${
        tools
          .servers()
          .map((t) => t.server)
          .join(", ") || "none"
      }`,
    );
    if (values.demo) await demoUntilStopped(mesh, stop);
    else {
      say(tryHints(url, nats !== undefined));
      await stop.received;
      say("stopping…");
    }
    await serve?.drain();
    await discord?.close();
  } finally {
    // In reverse start order (stopInOrder reverses): front doors, conductor, agent hosts (together), tools, mesh, processes.
    const all = async (f: (h: AgentHost) => Promise<void>) => void (await Promise.all(hosts.map(f)));
    const agents = { drain: () => all((h) => h.drain()), close: () => all((h) => h.close()) };
    const started = [{ close: stopStarted }, mesh, ...(tools ? [tools] : []), agents, ...(conductor ? [conductor] : [])];
    // The try drained the front doors; here they only close (at once, when the try ended early).
    const doors = [discord, serve].flatMap((d) => (d ? [{ close: () => d.close() }] : []));
    await stopInOrder([...started, ...doors], log);
  }
  return 0;
}

/** The Discord front door when the config has one and its token is set; a development mesh stays up without it. */
async function startDiscordIfSet(cfg: MeshConfig, mesh: Mesh, log: Logger): Promise<DiscordAdapter | undefined> {
  if (cfg.discord && process.env[DISCORD_TOKEN_ENV]) {
    // A development mesh stays up without Discord (a wrong token, no network); `lyra discord` fails instead.
    try {
      const discord = await startDiscordFromConfig(cfg, mesh, process.env[DISCORD_TOKEN_ENV], log);
      say("Discord front door connected: mention the bot, DM it, or use /ask");
      return discord;
    } catch (err) {
      say(`the Discord front door could not start: ${(err as Error).message} (check ${DISCORD_TOKEN_ENV})`);
    }
  } else if (cfg.discord) say(`the config has a discord section but ${DISCORD_TOKEN_ENV} is not set: the Discord front door stays off`);
  return undefined;
}

/** Runs the demo; a signal mid-demo stops it (draining the mesh afterwards ends the demo's reply watch). */
async function demoUntilStopped(mesh: Mesh, stop: StopSignals): Promise<void> {
  const demo = runDemo(mesh);
  const signalled = await Promise.race([demo.then(() => undefined), stop.received]);
  if (signalled) {
    demo.catch(() => {}); // it ends with the mesh; its error after a stop is no news
    say("stopping…");
  }
}

/** What to try against the running mesh; `localNats`: the URL must be given to the other terminal. */
function tryHints(url: string, localNats: boolean): string {
  const env = localNats ? `NATS_URL=${url} ` : "";
  return [
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
  ].join("\n");
}

function say(s: string): void {
  process.stderr.write(`lyra up: ${s}\n`);
}
