/** Loading the mesh config and connecting with it, shared by the long-running commands. */
import { fileURLToPath } from "node:url";
import { loadMeshConfig, type MeshConfig } from "../../schemas/index.ts";
import { connectMesh, type Mesh, type Logger } from "../../mesh/index.ts";

/** config/mesh.dev.yaml of this checkout: the default when neither --config nor LYRA_CONFIG is given. */
export const DEV_CONFIG = fileURLToPath(new URL("../../config/mesh.dev.yaml", import.meta.url));

export const configOption = { config: { type: "string" as const, short: "c" as const } } as const;
export const configHelp = { config: "mesh config file (default: $LYRA_CONFIG or config/mesh.dev.yaml)" };

export async function loadConfig(values: Record<string, unknown>): Promise<MeshConfig> {
  const path = (values.config as string | undefined) ?? process.env.LYRA_CONFIG ?? DEV_CONFIG;
  return loadMeshConfig(path);
}

export async function connectWithConfig(cfg: MeshConfig, name: string, log: Logger): Promise<Mesh> {
  const tls = cfg.nats.tls ? { caFile: cfg.nats.tls.ca_file, certFile: cfg.nats.tls.cert_file, keyFile: cfg.nats.tls.key_file } : undefined;
  return connectMesh({
    servers: cfg.nats.servers,
    name,
    credsFile: cfg.nats.creds_file,
    nkeyFile: cfg.nats.nkey_file,
    tls,
    inboxPrefix: cfg.nats.inbox_prefix,
    encoding: cfg.nats.encoding,
    region: cfg.mesh.region,
    log,
  });
}

/** The first SIGINT or SIGTERM from the moment `watchSignals()` is called. */
export interface StopSignals {
  /** Aborted by the first signal. */
  readonly signal: AbortSignal;
  /** Resolves with the first signal (never rejects). */
  readonly received: Promise<NodeJS.Signals>;
  /** Removes the handlers if no signal came; safe to call twice. */
  [Symbol.dispose](): void;
}

/**
 * Installs the SIGINT/SIGTERM handlers now. Call it before starting anything: until a handler is
 * installed, a signal kills the process outright (the default action), so what was already started
 * (nats-server, Ollama, tool servers) is left behind. After the first signal the handlers are
 * removed, so a second one ends the process as usual.
 */
export function watchSignals(): StopSignals {
  const ac = new AbortController();
  let resolve!: (s: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const off = () => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
  function on(s: NodeJS.Signals) {
    off();
    ac.abort(s);
    resolve(s);
  }
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return { signal: ac.signal, received, [Symbol.dispose]: off };
}
