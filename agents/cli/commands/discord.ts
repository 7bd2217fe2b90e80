import {
  createLogger,
  type Logger,
  ensureStreams,
  natsReadiness,
  serveMetrics,
  streamsFromConfig,
  type Mesh,
} from "../../../mesh/index.ts";
import type { MeshConfig } from "../../../schemas/index.ts";
import { startDiscordAdapter, type DiscordAdapter } from "../../frontdoors/discord/index.ts";
import { defineCommand, intOption, UsageError } from "../command.ts";
import { configHelp, configOption, connectWithConfig, loadConfig, watchSignals } from "../config.ts";
import { runUntilSignal } from "../run-until-signal.ts";

/** The environment variable that holds the bot token (never the config file). */
export const DISCORD_TOKEN_ENV = "DISCORD_TOKEN";

export const discord = defineCommand({
  name: "discord",
  summary: "The Discord front door: answers mentions, DMs, configured channels and slash commands through the mesh.",
  usage: "[--config FILE] [--metrics-port PORT]",
  options: { ...configOption, "metrics-port": { type: "string" } },
  help: { ...configHelp, "metrics-port": "serve Prometheus /metrics here (default: discord.metrics_port, else metrics.port + 3)" },
  details:
    `Needs $${DISCORD_TOKEN_ENV} (the bot token) and a 'discord:' section in the config (see config/mesh.example.yaml).\n` +
    "$DISCORD_API_URL points the client at another Discord API base (a proxy or a test double).",
  async run(values) {
    const cfg = await loadConfig(values);
    const token = process.env[DISCORD_TOKEN_ENV];
    if (!token)
      throw new UsageError(
        `set ${DISCORD_TOKEN_ENV} to the bot's token (Discord Developer Portal → your app → Bot → Reset Token); ` +
          `it is never read from the config`,
      );
    if (!cfg.discord) throw new UsageError("the config has no 'discord:' section; add 'discord: {}' (options in config/mesh.example.yaml)");
    const log = createLogger().child({ process: "discord" });
    const mesh = await connectWithConfig(cfg, "lyra-discord", log);
    const adapter = await startDiscordFromConfig(cfg, mesh, token, log);
    const port = intOption("metrics-port", values["metrics-port"], cfg.discord.metrics_port ?? (cfg.metrics?.port ?? 9464) + 3);
    const server = await serveMetrics(adapter.metrics.registry, port, undefined, [natsReadiness(mesh.nc)]);
    const signals = watchSignals(); // before the ready line: a signal right after it must stop cleanly
    log.info({ metricsPort: server.port }, "discord front door ready");
    await runUntilSignal([mesh, { close: () => void server.close() }, adapter], log, { signals });
    return 0;
  },
});

/** Starts the adapter of the config's `discord` section (the caller checked it is there). */
export async function startDiscordFromConfig(cfg: MeshConfig, mesh: Mesh, token: string, log: Logger): Promise<DiscordAdapter> {
  await ensureStreams(mesh, streamsFromConfig(cfg));
  return startDiscordAdapter({ mesh, config: cfg.discord!, token, tenant: cfg.mesh.name, log, apiUrl: process.env.DISCORD_API_URL });
}
