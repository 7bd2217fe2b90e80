import { createLogger } from "../../../mesh/index.ts";
import { keysFromConfig, reloadKeys, serveFromConfig } from "../../frontdoors/openai/index.ts";
import { defineCommand, intOption } from "../command.ts";
import { configHelp, configOption, connectWithConfig, loadConfig, watchSignals } from "../config.ts";
import { onReload } from "../reload.ts";
import { runUntilSignal } from "../run-until-signal.ts";

export const serve = defineCommand({
  name: "serve",
  summary: "The OpenAI-compatible endpoint: POST /v1/chat/completions (model 'lyra' or 'lyra/<role>'), GET /v1/models.",
  usage: "[--config FILE] [--listen ADDRESS] [--port PORT]",
  options: { ...configOption, listen: { type: "string" }, port: { type: "string" } },
  help: {
    ...configHelp,
    listen: "address to listen on (default: config serve.listen, 127.0.0.1)",
    port: "port (default: config serve.port, 8080; 0 picks a free one)",
  },
  details:
    "API keys come from $LYRA_SERVE_KEYS (comma-separated; serve.keys_env names another variable), never\n" +
    "from the config. A key's conversations are its own (serve.tenants lets keys share them; the start\n" +
    "log has each key's id). With serve.keys_file, SIGHUP re-reads the config and the keys file: a key\n" +
    "gone from it keeps working for serve.key_grace_s, then gets 401.\n" +
    "Model 'lyra' runs the whole committee through the inbox (a conductor must run);\n" +
    "'lyra/<role>' calls one role directly. /metrics, /healthz and /readyz are on the same port, without a key.\n" +
    "SIGINT/SIGTERM drains: new requests get 503, in-flight ones finish within serve.grace.",
  async run(values) {
    const cfg = await loadConfig(values);
    const port = values.port === undefined ? undefined : intOption("port", values.port, 0);
    keysFromConfig(cfg); // no keys: say so before connecting
    const log = createLogger().child({ process: "serve" });
    const mesh = await connectWithConfig(cfg, "lyra-serve", log);
    const server = await serveFromConfig(cfg, mesh, log, { listen: values.listen as string | undefined, port }).catch(
      async (err: unknown) => {
        await mesh.drain();
        throw err;
      },
    );
    const signals = watchSignals(); // before the ready line: a signal right after it must stop cleanly
    const stopReload = onReload(log, "the API keys", async () => {
      reloadKeys(server.keys, await loadConfig(values), log);
    });
    process.stderr.write(
      `lyra serve: OpenAI-compatible API on ${server.url} (models: lyra, ${Object.keys(cfg.roles)
        .map((r) => `lyra/${r}`)
        .join(", ")})\n`,
    );
    await runUntilSignal([mesh, { close: stopReload }, server], log, { signals, message: "shutting down: finishing in-flight requests" });
    return 0;
  },
});
