/**
 * The real parts of the `real` test tier: Ollama (the binary `npm run setup` builds or finds) with
 * the small models setup imports, on a random port per test file; the project's Python venv
 * (LiteLLM, Synadia's SDK); the `nats` CLI. A missing part fails the test with what to run; no
 * test of the tier is ever skipped.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { lifecycle, type Closable } from "../../mesh/lifecycle.ts";
import { freePort } from "./nats-server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VERSIONS = readFileSync(`${ROOT}infra/setup/versions.sh`, "utf8");
const pinned = (name: string): string => {
  const m = new RegExp(`^${name}=(\\S+)`, "m").exec(VERSIONS);
  if (!m) throw new Error(`infra/setup/versions.sh has no ${name}`);
  return m[1]!;
};

/** The instruction-tuned chat model and the embedding model `npm run setup` imports into Ollama. */
/**
 * Chat options for a real model on a shared CPU: a first token may take minutes when the machine is
 * loaded (the tier must pass beside a CPU hog), so only a hang fails the first-token deadline.
 */
export const PATIENT = { firstTokenTimeoutMs: 300_000 };
export const CHAT_MODEL = pinned("CHAT_MODEL");
export const EMBED_MODEL = pinned("EMBED_MODEL");
/** The project's Python virtual environment (LiteLLM proxy, synadia-ai-agents). */
export const VENV = `${ROOT}.venv`;

const SETUP_HINT = "run 'npm run setup' (it installs every real part the tests use)";

/** Throws what to run when a binary of the real tier is not on PATH. */
export function requireBinary(bin: string, what: string): void {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (r.error) throw new Error(`${what} ('${bin}') is not installed: ${SETUP_HINT}`);
}

/** Throws what to run when the venv lacks a program (litellm, python). */
export function venvBin(name: string): string {
  const path = `${VENV}/bin/${name}`;
  if (!existsSync(path)) throw new Error(`${path} is missing: ${SETUP_HINT}`);
  return path;
}

export interface RealOllama extends Closable {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** host:port, as OLLAMA_HOST takes it. */
  readonly host: string;
  readonly process: ChildProcess;
  /** The server's log so far (for failure messages). */
  log(): string;
}

export interface RealOllamaOptions {
  /** OLLAMA_NUM_PARALLEL; default 2. */
  parallel?: number;
  /** Extra environment (OLLAMA_* settings). */
  env?: Record<string, string>;
}

/**
 * Starts `ollama serve` on a random loopback port with the models setup imported (the default
 * model store), and checks that both models are there.
 */
export async function startOllama(o: RealOllamaOptions = {}): Promise<RealOllama> {
  requireBinary("ollama", "Ollama");
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const proc = spawn("ollama", ["serve"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, OLLAMA_HOST: host, OLLAMA_NUM_PARALLEL: String(o.parallel ?? 2), OLLAMA_NOPRUNE: "1", ...o.env },
  });
  let out = "";
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const url = `http://${host}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    await exited;
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`ollama serve exited (${proc.exitCode}): ${out.slice(-2000)}`);
      const tags = await fetch(`${url}/api/tags`)
        .then((r) => r.json() as Promise<{ models: { name: string }[] }>)
        .catch(() => undefined);
      if (tags) {
        const names = tags.models.map((m) => m.name);
        for (const m of [CHAT_MODEL, EMBED_MODEL]) {
          const full = m.includes(":") ? m : `${m}:latest`;
          if (!names.includes(full)) throw new Error(`Ollama has no model '${m}' (it has: ${names.join(", ") || "none"}): ${SETUP_HINT}`);
        }
        break;
      }
      if (Date.now() > deadline) throw new Error(`ollama serve did not answer on ${url} within 30 s: ${out.slice(-2000)}`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, host, process: proc, log: () => out, ...lifecycle({ close: stop }) };
}
