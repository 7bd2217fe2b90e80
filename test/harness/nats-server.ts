/**
 * Starts a real nats-server for a test: random client port (`-p -1` and a ports file), JetStream
 * on with its store in a temp dir. Fails with an install hint when the binary is missing.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MIN_NATS_SERVER, versionAtLeast } from "../../mesh/connect.ts";
import { lifecycle, type Closable } from "../../mesh/lifecycle.ts";

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "nats-server";

/** Throws an error that says what to run when nats-server is missing or older than the mesh needs. */
export function requireNatsServer(): void {
  const r = spawnSync(NATS_SERVER_BIN, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(
      `nats-server not found ('${NATS_SERVER_BIN}'): ` +
        `run 'npm run setup' (it installs the pinned release), or set NATS_SERVER_BIN to its path.`,
    );
  }
  const version = /v?(\d+\.\d+\.\d+\S*)/.exec(r.stdout)?.[1] ?? r.stdout.trim();
  if (!versionAtLeast(version, MIN_NATS_SERVER)) {
    throw new Error(
      `nats-server ${version} ('${NATS_SERVER_BIN}') is older than ${MIN_NATS_SERVER}, ` +
        `which the mesh needs: run 'npm run setup' and put its bin folder first on PATH.`,
    );
  }
}

export interface NatsServerOptions {
  jetstream?: boolean;
  /** Extra nats-server config text (e.g. "max_payload: 4096"). */
  config?: string;
  /** A config file used where it is (its `include`s resolve next to it); instead of `config`. */
  configFile?: string;
  /** Environment of the server (config files may read `$VARIABLES`). */
  env?: Record<string, string>;
  /** Reuse a store directory (restart tests). */
  storeDir?: string;
  /** Fixed client port (restart tests keep it); default random. */
  port?: number;
  args?: string[];
}

export interface NatsServer extends Closable {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly process: ChildProcess;
  /** SIGTERM and wait; the store stays (a restart test starts a new server on it). */
  close(): Promise<void>;
  /** SIGKILL and wait (then as close()). */
  kill(): Promise<void>;
  /** close(), then removes the temp dir (the store with it, unless `storeDir` was given). */
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  requireNatsServer();
  const dir = mkdtempSync(join(tmpdir(), "lyra-nats-"));
  const storeDir = opts.storeDir ?? join(dir, "js");
  const portsDir = join(dir, "ports");
  const args = ["-a", "127.0.0.1", "-p", String(opts.port ?? -1), "--ports_file_dir", portsDir];
  if (opts.jetstream !== false) args.push("-js", "-sd", storeDir);
  if (opts.configFile) args.push("-c", opts.configFile);
  else if (opts.config) {
    const conf = join(dir, "server.conf");
    writeFileSync(conf, opts.config);
    args.push("-c", conf);
  }
  args.push(...(opts.args ?? []));
  mkdirSync(portsDir, { recursive: true });
  const proc = spawn(NATS_SERVER_BIN, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...opts.env } });
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const port = await waitForPort(portsDir, proc, () => stderr);
  const url = `nats://127.0.0.1:${port}`;
  const stopWith = async (sig: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await exited;
  };
  const { close, closed } = lifecycle({ close: () => stopWith("SIGTERM") });
  const removed = lifecycle({ close: () => close().finally(() => rmSync(dir, { recursive: true, force: true })) });
  return {
    url,
    port,
    storeDir,
    process: proc,
    close,
    closed,
    kill: () => stopWith("SIGKILL").then(close),
    [Symbol.asyncDispose]: removed.close,
  };
}

async function waitForPort(portsDir: string, proc: ChildProcess, stderr: () => string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited (${proc.exitCode}): ${stderr()}`);
    const f = existsSync(portsDir) ? readdirSync(portsDir).find((n) => n.endsWith(".ports")) : undefined;
    if (f) {
      try {
        const ports = JSON.parse(readFileSync(join(portsDir, f), "utf8")) as { nats?: string[] };
        const m = /:(\d+)$/.exec(ports.nats?.[0] ?? "");
        if (m) return Number(m[1]);
      } catch {
        // written but not complete yet
      }
    }
    await sleep(25);
  }
  proc.kill("SIGKILL");
  throw new Error(`nats-server did not report its port within 10s: ${stderr()}`);
}

/** A free TCP port on loopback (for cluster routes, which need known ports). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

export interface NatsCluster extends AsyncDisposable {
  readonly servers: NatsServer[];
  readonly urls: string[];
}

/** Three (or n) JetStream nodes joined in one cluster, for replicated-stream tests. */
export async function startNatsCluster(n = 3): Promise<NatsCluster> {
  const routePorts = await Promise.all(Array.from({ length: n }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(",");
  const servers: NatsServer[] = [];
  try {
    for (let i = 0; i < n; i++) {
      servers.push(
        await startNatsServer({
          args: ["--name", `n${i}`, "--cluster_name", "lyra-test", "--cluster", `nats://127.0.0.1:${routePorts[i]}`, "--routes", routes],
        }),
      );
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s[Symbol.asyncDispose]()));
    throw err;
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    async [Symbol.asyncDispose]() {
      await Promise.all(servers.map((s) => s[Symbol.asyncDispose]()));
    },
  };
}

export { sleep };
