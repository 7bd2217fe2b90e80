import { hostname } from "node:os";
import { createLogger, serveMetrics } from "../../../mesh/index.ts";
import { startToolHost } from "../../../tools/index.ts";
import { defineCommand, intOption, UsageError } from "../command.ts";
import { configHelp, configOption, connectWithConfig, loadConfig, watchSignals } from "../config.ts";
import { runUntilSignal } from "../run-until-signal.ts";
import { startTelemetry } from "../telemetry.ts";

export const tools = defineCommand({
  name: "tools",
  summary: "Host the mesh config's tool servers on NATS: built-ins, and existing MCP servers over stdio or Streamable HTTP.",
  usage: "[--config FILE] [--only NAME,NAME] [--host NAME] [--metrics-port PORT] [--grace-ms MS]",
  options: {
    ...configOption,
    only: { type: "string" },
    host: { type: "string" },
    "metrics-port": { type: "string" },
    "grace-ms": { type: "string", default: "10000" },
  },
  help: {
    ...configHelp,
    only: "host only these servers of tools.servers, comma-separated (default: all)",
    host: "this machine's name in lyra status (default: its hostname)",
    "metrics-port": "serve Prometheus /metrics here (default: config metrics.port + 2)",
    "grace-ms": "on SIGINT/SIGTERM, how long calls in flight may take to finish",
  },
  details:
    "A bridged server that crashes is restarted with backoff; " +
    "one that cannot start is reported in 'lyra status' and its calls fail at once.\n" +
    "Stops cleanly on SIGINT/SIGTERM: takes no new calls, finishes those in flight, stops the servers, drains NATS.",
  async run(values) {
    const cfg = await loadConfig(values);
    const host = (values.host as string | undefined) ?? hostname();
    const only =
      typeof values.only === "string"
        ? values.only
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
    if (Object.keys(cfg.tools.servers).length === 0)
      throw new UsageError("the config has no tools.servers: add one (e.g. tools.servers.clock: { builtin: clock }) to host it");
    const graceMs = intOption("grace-ms", values["grace-ms"], 10_000);
    const port = intOption("metrics-port", values["metrics-port"], (cfg.metrics?.port ?? 9464) + 2);
    const log = createLogger().child({ process: "tools", host });
    const stopTelemetry = await startTelemetry(cfg, "tools", log, { "host.name": host });
    const mesh = await connectWithConfig(cfg, `lyra-tools-${host}`, log);
    let toolHost;
    let server;
    try {
      toolHost = await startToolHost(mesh, {
        tenant: cfg.mesh.name,
        host,
        servers: cfg.tools.servers,
        only,
        listTtlS: cfg.tools.list_ttl_s,
        cache: cfg.tools.cache,
        log,
      });
      server = await serveMetrics(toolHost.metrics.registry, port);
    } catch (err) {
      // The bridged children stop with the host, not with this process's exit.
      await toolHost?.close();
      await mesh.close();
      throw err;
    }
    const signals = watchSignals(); // before the ready line: a signal right after it must stop cleanly
    log.info({ metricsPort: server.port, servers: toolHost.servers().map((s) => `${s.server}:${s.state}`) }, "lyra tools ready");
    const metricsServer = server;
    const hosted = { drain: () => toolHost.drain(graceMs), close: () => toolHost.close() };
    const services = [{ close: stopTelemetry }, mesh, { close: () => void metricsServer.close() }, hosted];
    await runUntilSignal(services, log, { signals, message: "shutting down: finishing calls in flight", fields: { graceMs } });
    return 0;
  },
});
