/**
 * The committee benchmark's mesh as production runs it: nats-server, `lyra agent` and `lyra core`
 * (compiled, with the systemd units' flags) and the front door, each its own process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { connectMesh } from "../../mesh/connect.ts";
import { createRoleClient } from "../../mesh/rolecall/index.ts";
import { AGENT_FLAGS, AGENT_NODE_OPTIONS, COMPILED_CLI } from "./memory.ts";

const FRONTDOOR = fileURLToPath(new URL("./frontdoor-proc.ts", import.meta.url));

export interface Proc {
  name: string;
  proc: ChildProcess;
  output(): string;
  lines(onLine: (line: string) => void): void;
  stop(): Promise<void>;
}

/** LYRA_BENCH_CPU_PROF=DIR: every process writes a V8 CPU profile there when it exits (cpuprofile-top.ts reads them). */
const PROF_DIR = process.env.LYRA_BENCH_CPU_PROF;

function start(name: string, args: string[], env: Record<string, string> = {}): Proc {
  const prof = PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
  const proc = spawn(process.execPath, [...prof, ...args], {
    env: { ...process.env, LYRA_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let partial = "";
  const listeners: ((line: string) => void)[] = [];
  proc.stderr.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  proc.stdout.on("data", (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const l of lines) {
      out = (out + l + "\n").slice(-20_000);
      for (const f of listeners) f(l);
    }
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    name,
    proc,
    output: () => out,
    lines: (f) => listeners.push(f),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * `lyra agent` as lyra-agent@.service runs it; resolves once its four roles answer. `flags`
 * replaces the unit's V8 flags (the committee section's row for an agent without --lite-mode).
 */
export async function startAgent(url: string, cfgPath: string, flags: readonly string[] = AGENT_FLAGS): Promise<Proc> {
  const p = start("agent", [...flags, COMPILED_CLI, "agent", "--config", cfgPath, "--host", "local", "--metrics-port", "0"], {
    LYRA_LOG_LEVEL: "warn",
    NODE_OPTIONS: AGENT_NODE_OPTIONS,
  });
  await using m = await connectMesh({ servers: url, name: "bench-probe" });
  await using client = createRoleClient(m, { dispatch: false });
  for (let i = 0; ; i++) {
    try {
      await Promise.all(
        ["router", "pragmatist", "philosopher", "voice"].map((r) => client.call(r, "hello", { timeoutMs: 2000, maxAttempts: 1 })),
      );
      return p;
    } catch (err) {
      if (i > 300 || p.proc.exitCode !== null) throw new Error(`lyra agent did not serve: ${String(err)}\n${p.output()}`);
      await sleep(50);
    }
  }
}

/**
 * Extra Node flags for the conductors, for experiments (space-separated), such as
 * LYRA_BENCH_CONDUCTOR_FLAGS="--lite-mode --max-semi-space-size=8".
 */
const CONDUCTOR_FLAGS = (process.env.LYRA_BENCH_CONDUCTOR_FLAGS ?? "").split(/\s+/).filter(Boolean);

/**
 * The V8 heap bounds of lyra-core.service: without them V8 on a large machine lets the young
 * generation grow to 128 MB and the old one far past its live data (about 30 MB here), which the
 * soak showed as RSS growth. The front-door units bound the young generation only.
 */
export const CONDUCTOR_NODE_OPTIONS = "--max-semi-space-size=16 --max-old-space-size=128";
export const FRONTDOOR_NODE_OPTIONS = "--max-semi-space-size=16";

/** `lyra core` as lyra-core.service runs it (plus CONDUCTOR_FLAGS); resolves once it consumes the inbox. */
export async function startConductor(i: number, cfgPath: string): Promise<Proc> {
  const p = start(`conductor-${i}`, [...CONDUCTOR_FLAGS, COMPILED_CLI, "core", "--config", cfgPath, "--metrics-port", "0"], {
    NODE_OPTIONS: CONDUCTOR_NODE_OPTIONS,
  });
  for (let t = 0; !/conductor ready/.test(p.output()); t++) {
    if (t > 600 || p.proc.exitCode !== null) throw new Error(`lyra core did not start:\n${p.output()}`);
    await sleep(50);
  }
  return p;
}

export interface FrontDoorResult {
  seconds: number;
  replies: number;
  latencies: number[];
  lost: number;
  duplicated: number;
  nats_msgs: number;
  rss_mb: number;
}

/** Runs the front door process to the end; `onTurns` hears its progress lines. */
export function runFrontDoor(
  url: string,
  tag: string,
  conversations: number,
  turns: number,
  every = 0,
  onTurns?: (n: number, rssMB: number) => void,
): { proc: Proc; result: Promise<FrontDoorResult> } {
  // With the front-door units' heap bound: it stands in for `lyra discord` / `lyra serve`.
  const p = start("frontdoor", [FRONTDOOR, url, tag, String(conversations), String(turns), String(every)], {
    NODE_OPTIONS: FRONTDOOR_NODE_OPTIONS,
  });
  const result = new Promise<FrontDoorResult>((resolve, reject) => {
    p.lines((l) => {
      if (!l.startsWith("{")) return;
      const o = JSON.parse(l) as { turns?: number; rss_mb?: number; done?: FrontDoorResult };
      if (o.turns !== undefined) onTurns?.(o.turns, o.rss_mb ?? Number.NaN);
      if (o.done) resolve(o.done);
    });
    p.proc.once("exit", (code) => reject(new Error(`front door exited (${code}) without a result:\n${p.output()}`)));
  });
  return { proc: p, result };
}
