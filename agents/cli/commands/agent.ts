import { hostname } from "node:os";
import { createLogger } from "../../../mesh/index.ts";
import { hostConfigOf, startAgentHost } from "../../host/index.ts";
import { defineCommand, intOption } from "../command.ts";
import { configHelp, configOption, connectWithConfig, loadConfig, watchSignals } from "../config.ts";
import { runUntilSignal } from "../run-until-signal.ts";
import { startTelemetry } from "../telemetry.ts";

export const agent = defineCommand({
  name: "agent",
  summary: "Serve the roles the mesh config places on this GPU host, each backed by the host's local Ollama.",
  usage: "--host NAME [--config FILE] [--metrics-port PORT]",
  options: {
    ...configOption,
    host: { type: "string" },
    "metrics-port": { type: "string" },
  },
  help: {
    ...configHelp,
    host: "which entry of the config's hosts this machine is (default: this machine's hostname)",
    "metrics-port": "serve Prometheus /metrics here (default: config metrics.port, 9464)",
  },
  details: "Stops cleanly on SIGINT/SIGTERM: takes no new work, finishes in-flight requests, drains NATS.",
  async run(values) {
    const cfg = await loadConfig(values);
    const host = (values.host as string | undefined) ?? hostname();
    hostConfigOf(cfg, host); // a wrong --host is reported before (and without) connecting to NATS
    const log = createLogger().child({ process: "agent", host });
    // OpenTelemetry is loaded only when telemetry.otlp is set: an idle agent stays lean.
    const stopTelemetry = await startTelemetry(cfg, "agent", log, { "host.name": host });
    const mesh = await connectWithConfig(cfg, `lyra-agent-${host}`, log);
    const metricsPort = values["metrics-port"] !== undefined ? intOption("metrics-port", values["metrics-port"], 9464) : undefined;
    let agentHost;
    try {
      agentHost = await startAgentHost({ config: cfg, host, mesh, log, metricsPort });
    } catch (err) {
      await mesh.close();
      throw err;
    }
    const signals = watchSignals(); // before the ready line: a signal right after it must stop cleanly
    for (const s of agentHost.state()) {
      log.info(s, `role ${s.role}: ${s.degraded ? `DEGRADED (${s.reason ?? "unhealthy"})` : s.loaded ? "ready, model loaded" : "ready"}`);
    }
    await runUntilSignal([{ close: stopTelemetry }, mesh, agentHost], log, { signals, message: "shutting down: finishing in-flight work" });
    return 0;
  },
});
