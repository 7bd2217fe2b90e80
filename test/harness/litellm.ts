/**
 * The real LiteLLM proxy (`.venv/bin/litellm`) on a random loopback port, for the `real` tier. It
 * starts in its own process group (it forks workers), so close() ends the whole group. Its
 * telemetry and its fetch of the remote model cost map are off: this machine has no internet, and
 * the fetch alone costs ~10 s of start-up in retries.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { lifecycle, type Closable } from "../../mesh/lifecycle.ts";
import { freePort } from "./nats-server.ts";
import { venvBin } from "./real.ts";

export interface RealLiteLLM extends Closable {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** `<url>/v1`, as litellm.base_url takes it. */
  readonly baseURL: string;
  readonly process: ChildProcess;
  /** The proxy's log so far. */
  log(): string;
}

export interface RealLiteLLMOptions {
  /** The config.yaml (from `lyra litellm-config`). */
  configFile: string;
  /** Environment the config's os.environ/NAME references read (the master key). */
  env: Record<string, string>;
  /** The port; default a free one. */
  port?: number;
  /** How long start-up may take, ms; default 90000 (it imports a lot of Python on two cores). */
  startTimeoutMs?: number;
}

export async function startLiteLLM(o: RealLiteLLMOptions): Promise<RealLiteLLM> {
  const bin = venvBin("litellm");
  const port = o.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  // No database: only the master key is accepted (Lyra's deployment), and nothing is stored.
  const { DATABASE_URL: _db, ...inherited } = process.env;
  const proc = spawn(bin, ["--config", o.configFile, "--host", "127.0.0.1", "--port", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: { ...inherited, LITELLM_TELEMETRY: "False", LITELLM_LOCAL_MODEL_COST_MAP: "True", NO_DOCS: "True", ...o.env },
  });
  let out = "";
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-40_000));
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const group = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      // the group is gone already
    }
  };
  const stop = async () => {
    group("SIGTERM");
    const t = setTimeout(() => group("SIGKILL"), 5000);
    if (alive()) await exited;
    clearTimeout(t);
    group("SIGKILL"); // workers that outlived the parent
  };
  try {
    const deadline = Date.now() + (o.startTimeoutMs ?? 90_000);
    for (;;) {
      if (!alive()) throw new Error(`litellm exited (${proc.exitCode ?? proc.signalCode}): ${out.slice(-3000)}`);
      const ok = await fetch(`${url}/health/liveliness`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`litellm did not answer on ${url} in time: ${out.slice(-3000)}`);
      await sleep(250);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, baseURL: `${url}/v1`, process: proc, log: () => out, ...lifecycle({ close: stop }) };
}
