/**
 * Makes sure a local Ollama answers for `lyra up`, as natsd.ts does for nats-server: when nothing
 * answers at a loopback URL and `ollama` is installed, it starts `ollama serve` there and stops it
 * afterwards; an Ollama it did not start is left alone. Then it checks that the models are pulled.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { AgentError, AgentErrorCode, Fault } from "../errors.ts";

/** How long `ollama serve` may take to answer after it starts, ms. */
const OLLAMA_START_TIMEOUT_MS = 30_000;
/** How long one /api/tags probe may take, ms. */
const PROBE_TIMEOUT_MS = 1_500;

export interface LocalOllama {
  /** The URL Ollama answers on (normalised: http://host:port). */
  url: string;
  /** True when this process started `ollama serve` (and `close()` ends it). */
  started: boolean;
  close(): Promise<void>;
}

/** Why Ollama cannot serve the development mesh; the message says what to run. */
export class OllamaSetupError extends AgentError {
  declare readonly code: OllamaSetupCode;
  constructor(code: OllamaSetupCode, message: string, options?: { cause?: unknown }) {
    super(code, Fault.Configuration, message, options);
  }
}
type OllamaSetupCode =
  | typeof AgentErrorCode.OllamaNotInstalled
  | typeof AgentErrorCode.OllamaNotStarted
  | typeof AgentErrorCode.OllamaNotReachable
  | typeof AgentErrorCode.OllamaModelsMissing;

const FIX = "run 'npm run setup' (it installs Ollama and the models), or use 'lyra up --scripted' (no model)";

/** The names of the models Ollama at `url` has, or undefined when it does not answer. */
export async function ollamaModels(url: string): Promise<string[] | undefined> {
  try {
    const res = await fetch(new URL("/api/tags", url), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (!res.ok) return undefined;
    return ((await res.json()) as { models?: { name: string }[] }).models?.map((m) => m.name) ?? [];
  } catch {
    return undefined;
  }
}

/** The models in `wanted` that `have` lacks ("all-minilm" is there as "all-minilm:latest"). */
export function missingModels(wanted: readonly string[], have: readonly string[]): string[] {
  return [...new Set(wanted)].filter((m) => !have.includes(m) && !have.includes(`${m}:latest`));
}

/**
 * Ollama answering on `url` with every model in `models`: the running one, else one this call
 * starts (loopback URLs only: a remote Ollama is someone else's to start).
 */
export async function ensureOllama(url: string, models: readonly string[], tell: (s: string) => void): Promise<LocalOllama> {
  let have = await ollamaModels(url);
  let proc: ChildProcess | undefined;
  const stop = async () => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc!.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    await exited;
  };
  if (!have) {
    const u = new URL(url);
    if (!["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) {
      throw new OllamaSetupError(
        AgentErrorCode.OllamaNotReachable,
        `Ollama does not answer at ${url} (hosts.*.ollama_url or $OLLAMA_HOST); ` +
          `start it there, point OLLAMA_HOST at a running one, or use 'lyra up --scripted'`,
      );
    }
    proc = await spawnOllama(`${u.hostname}:${u.port || "11434"}`);
    tell(`started ollama serve on ${url} (it stops with lyra up)`);
    const deadline = Date.now() + OLLAMA_START_TIMEOUT_MS;
    while (!(have = await ollamaModels(url))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new OllamaSetupError(
          AgentErrorCode.OllamaNotStarted,
          `ollama serve did not answer on ${url} within ${OLLAMA_START_TIMEOUT_MS / 1000} s ` +
            `(${proc.exitCode !== null ? `it exited ${proc.exitCode}` : "still starting"}): ${tail(proc)}`,
        );
      }
      await sleep(100);
    }
  }
  const missing = missingModels(models, have);
  if (missing.length) {
    await stop();
    throw new OllamaSetupError(
      AgentErrorCode.OllamaModelsMissing,
      `Ollama at ${url} lacks the model${missing.length > 1 ? "s" : ""} ${missing.join(", ")}: ` +
        `run 'npm run setup' (or ${missing.map((m) => `'ollama pull ${m}'`).join(" and ")}), or use 'lyra up --scripted' (no model)`,
    );
  }
  return { url, started: proc !== undefined, close: stop };
}

const output = new WeakMap<ChildProcess, string>();
const tail = (p: ChildProcess) => (output.get(p) ?? "").trim().slice(-1000) || "no output";

async function spawnOllama(host: string): Promise<ChildProcess> {
  const proc = spawn("ollama", ["serve"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, OLLAMA_HOST: host } });
  output.set(proc, "");
  const keep = (d: Buffer) => output.set(proc, (output.get(proc)! + d.toString()).slice(-4000));
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  // A missing binary is an 'error' event right after spawn, not an exception.
  await new Promise<void>((resolve, reject) => {
    proc.once("spawn", resolve);
    proc.once("error", (err) =>
      reject(
        new OllamaSetupError(AgentErrorCode.OllamaNotInstalled, `Ollama is not running and not installed (${err.message}); ${FIX}`, {
          cause: err,
        }),
      ),
    );
  });
  return proc;
}
