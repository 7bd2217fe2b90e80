import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { createLogger } from "../../../mesh/logger.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { conductorOptions } from "../../host/committee.ts";
import { serveMetrics } from "../../host/metrics.ts";
import { defineCommand, intOption } from "../command.ts";
import { configHelp, configOption, connectWithConfig, loadConfig, untilSignal } from "../config.ts";

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
    const mesh = await connectWithConfig(cfg, "lyra-core", log);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: "lyra_core_" });
    const turns = new Counter({ name: "lyra_turns_total", help: "Turns handled, by outcome", labelNames: ["outcome"], registers: [registry] });
    const turnSeconds = new Histogram({ name: "lyra_turn_duration_seconds", help: "Inbox to stored reply", buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [registry] });
    const conductor = await startConductor(mesh, {
      ...conductorOptions(cfg, mesh, log),
      onTurn: (t) => {
        turns.inc({ outcome: t.ok ? "ok" : "retry" });
        turnSeconds.observe(t.ms / 1000);
      },
    });
    const port = intOption("metrics-port", values["metrics-port"], (cfg.metrics?.port ?? 9464) + 1);
    const server = await serveMetrics(registry, port);
    log.info({ metricsPort: server.port }, "conductor ready");
    const sig = await untilSignal();
    log.info({ signal: sig }, "shutting down: finishing in-flight turns");
    await conductor.drain();
    server.close();
    await mesh.drain();
    return 0;
  },
});
