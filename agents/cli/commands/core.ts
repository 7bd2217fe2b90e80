import { createLogger, createCoreMetrics, natsReadiness, serveMetrics, startConductor, type Conductor } from "../../../mesh/index.ts";
import { conductorOptions } from "../../host/index.ts";
import { defineCommand, intOption } from "../command.ts";
import { configHelp, configOption, connectWithConfig, loadConfig, watchSignals } from "../config.ts";
import { runUntilSignal } from "../run-until-signal.ts";
import { startTelemetry } from "../telemetry.ts";

export const core = defineCommand({
  name: "core",
  summary: "The conductor: consume the inbox, run router → specialist → voice, write the log and the outbox.",
  usage: "[--config FILE] [--metrics-port PORT]",
  options: { ...configOption, "metrics-port": { type: "string" } },
  help: { ...configHelp, "metrics-port": "serve Prometheus /metrics here (default: config metrics.port + 1)" },
  details: "Run any number of replicas: they share one durable consumer. Stops cleanly on SIGINT/SIGTERM.",
  async run(values) {
    const cfg = await loadConfig(values);
    const log = createLogger().child({ process: "core" });
    const stopTelemetry = await startTelemetry(cfg, "core", log);
    const mesh = await connectWithConfig(cfg, "lyra-core", log);
    // Read at scrape time; the server starts after the conductor.
    const metrics = createCoreMetrics(() => conductor);
    const conductor: Conductor = await startConductor(mesh, {
      ...conductorOptions(cfg, mesh, log),
      onTurn: metrics.onTurn,
      onEvent: metrics.onEvent,
    });
    const port = intOption("metrics-port", values["metrics-port"], (cfg.metrics?.port ?? 9464) + 1);
    const server = await serveMetrics(metrics.registry, port, undefined, [natsReadiness(mesh.nc)]);
    const signals = watchSignals(); // before the ready line: a signal right after it must stop cleanly
    log.info({ metricsPort: server.port }, "conductor ready");
    const services = [{ close: stopTelemetry }, mesh, { close: () => void server.close() }, conductor];
    await runUntilSignal(services, log, { signals, message: "shutting down: finishing in-flight turns" });
    return 0;
  },
});
