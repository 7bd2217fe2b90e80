/**
 * Memory of an agent host process: `lyra agent` as a child process with the scripted committee
 * config, its resident set (VmRSS, /proc/<pid>/status) idle after a warm-up, and its peak while
 * it serves 64 concurrent streams (the scripted voice waits a little per word, so all 64 are in
 * flight at once; VmRSS is sampled every 10 ms during them).
 */
import { execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { connectMesh } from "../../mesh/connect.ts";
import { createRoleClient } from "../../mesh/rolecall/index.ts";
import { writeCommitteeConfig } from "../harness/committee-fixture.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { descendantMatching, statusMB } from "./procfs.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, quantile } from "./stats.ts";

const STREAMS = 64;
const WORD_DELAY_MS = 40;
/** Idle RSS of `lyra agent` as `npx lyra agent` starts it (the TypeScript sources, no flags). */
const IDLE_TARGET_MB = 150;
const BUSY_TARGET_MB = 150;
const mb = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "—");
/** How infra/systemd/lyra-agent@.service runs the agent: a small young generation... */
export const AGENT_NODE_OPTIONS = "--max-semi-space-size=1";
/** ...V8's default tiers (no --lite-mode since the 80 MB idle target was retired), and the compiled CLI (`npm run build`). */
export const AGENT_FLAGS: readonly string[] = [];
/** The unit's V8 flags while the idle target was 80 MB: V8 without its optimising tiers (about 10 MB less, 1.5 × the CPU). */
const LITE_FLAGS = ["--lite-mode"];
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const COMPILED_CLI = `${ROOT}dist/agents/cli/lyra.js`;
const STARTUP_TARGET_MS = 1000;

/** `npm run build`: what the systemd units run. */
export function buildDist(): void {
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
}
const RSS_FLOOR = fileURLToPath(new URL("./rss-floor.ts", import.meta.url));

/** RSS of a Node process that has loaded nothing, and of one loading what the agent loads, step by step. */
function floors(): { step: string; rss_mb: number }[] {
  const plain = execFileSync(
    process.execPath,
    ["-e", `setTimeout(() => console.log(/VmRSS:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1]), 100)`],
    { encoding: "utf8" },
  );
  const steps = JSON.parse(execFileSync(process.execPath, [RSS_FLOOR], { encoding: "utf8" })) as { step: string; rss_mb: number }[];
  return [{ step: "Node, plain JavaScript, nothing imported", rss_mb: Math.round((Number(plain) * 1024) / 1e5) / 10 }, ...steps];
}

interface AgentMemory {
  startupMs: number;
  idle: number;
  peak: number;
  hwm: number;
  maxInFlight: number;
  streamSeconds: number;
}

/** How the agent is started: node with flags on the compiled CLI (the unit), or `npx lyra agent` (the sources). */
type Launch = { flags: readonly string[] } | "npx";
const launchName = (l: Launch) => (l === "npx" ? "npx lyra agent" : `node ${l.flags.join(" ")}`);

function spawnAgent(launch: Launch, cfgPath: string) {
  const args = ["agent", "--config", cfgPath, "--host", "local", "--metrics-port", "0"];
  if (launch === "npx") {
    // As a user starts it from a checkout: no NODE_OPTIONS, no V8 flags, the TypeScript sources.
    const { NODE_OPTIONS: _drop, ...env } = process.env;
    // A process group of its own (npm → sh → node), so the whole of it is stopped at the end.
    return spawn("npx", ["lyra", ...args], {
      cwd: ROOT,
      env: { ...env, LYRA_LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
  }
  return spawn(process.execPath, [...launch.flags, COMPILED_CLI, ...args], {
    env: { ...process.env, LYRA_LOG_LEVEL: "warn", NODE_OPTIONS: AGENT_NODE_OPTIONS },
    stdio: ["ignore", "ignore", "pipe"],
  });
}

/** Starts `lyra agent`, warms it up, and reads its RSS idle and under STREAMS streams. */
async function measureAgent(ctx: BenchContext, url: string, cfgPath: string, launch: Launch): Promise<AgentMemory> {
  await using caller = await connectMesh({ servers: url, name: "bench-memory" });
  const client = createRoleClient(caller);
  const spawnedAt = performance.now();
  const proc = spawnAgent(launch, cfgPath);
  const flags = [launchName(launch)];
  let output = "";
  proc.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  let agentPid: number | undefined;
  try {
    // Start-up to serving: until all four roles answer (no model pre-load: scripted models).
    ctx.progress(`memory: ${flags.join(" ")}: waiting for the agent host, then warming it up`);
    for (let i = 0; ; i++) {
      try {
        await Promise.all(
          ["router", "pragmatist", "philosopher", "voice"].map((r) => client.call(r, "hello", { timeoutMs: 2000, maxAttempts: 1 })),
        );
        break;
      } catch (err) {
        if (i > 500 || proc.exitCode !== null) throw new Error(`lyra agent did not serve: ${String(err)}\n${output}`);
        await sleep(10);
      }
    }
    const startupMs = performance.now() - spawnedAt;
    // npx runs the agent in a child process (npm → sh → node): measure that one, not npm.
    const pid = launch === "npx" ? descendantMatching(proc.pid!, /agents\/cli\/lyra\.ts agent|lyra agent --config/) : proc.pid!;
    if (pid === undefined) throw new Error("no `lyra agent` process under npx");
    agentPid = pid;
    const roles = ["router", "pragmatist", "philosopher", "voice"];
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => client.call(roles[i % roles.length]!, `Why warm up, round ${round}?`)));
    }
    await sleep(2000);
    const idleSamples: number[] = [];
    for (let i = 0; i < 10; i++) {
      idleSamples.push(statusMB(pid, "VmRSS") ?? Number.NaN);
      await sleep(100);
    }
    const idle = quantile(
      [...idleSamples].sort((a, b) => a - b),
      0.5,
    );

    ctx.progress(`memory: ${flags.join(" ")}: ${STREAMS} concurrent voice streams`);
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
    let inFlight = 0;
    let maxInFlight = 0;
    const busySamples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        busySamples.push(statusMB(pid, "VmRSS") ?? Number.NaN);
        await sleep(10);
      }
    })();
    const streamOnce = async (i: number) => {
      let counted = false;
      for await (const c of client.stream("voice", `${words} (${i})`)) {
        if (!counted && c.type === "response") {
          counted = true;
          maxInFlight = Math.max(maxInFlight, ++inFlight);
        }
      }
      if (counted) inFlight--;
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: STREAMS }, (_, i) => streamOnce(i)));
    const streamSeconds = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    return { startupMs, idle, peak: Math.max(...busySamples), hwm: statusMB(pid, "VmHWM") ?? Number.NaN, maxInFlight, streamSeconds };
  } finally {
    await client.close();
    // npx's group (npm may not pass a signal on to the agent it runs), or the agent itself.
    const stop = (sig: NodeJS.Signals) => {
      try {
        if (launch === "npx") process.kill(-proc.pid!, sig);
        else proc.kill(sig);
      } catch {
        // gone already
      }
    };
    stop("SIGTERM");
    await Promise.race([exited, sleep(5000)]);
    if (agentPid !== undefined && statusMB(agentPid, "VmRSS") !== undefined) stop("SIGKILL");
    else if (proc.exitCode === null && proc.signalCode === null) stop("SIGKILL");
  }
}

export async function memory(ctx: BenchContext): Promise<SectionResult> {
  ctx.progress("memory: what a Node process holds before the agent does anything");
  const floor = floors();
  ctx.progress("memory: npm run build (the agent runs compiled, as the systemd unit runs it)");
  buildDist();
  await using server = await startNatsServer();
  const cfgPath = writeCommitteeConfig({ natsUrl: server.url, delayMs: WORD_DELAY_MS, slots: 128, queue: 128 });
  try {
    const npx = await measureAgent(ctx, server.url, cfgPath, "npx");
    const { startupMs, idle, peak, hwm, maxInFlight, streamSeconds } = await measureAgent(ctx, server.url, cfgPath, { flags: AGENT_FLAGS });
    const lite = await measureAgent(ctx, server.url, cfgPath, { flags: LITE_FLAGS });
    const rows = [
      ["state", "RSS MB", "samples"],
      ["`npx lyra agent` (the sources, no flags): idle, after start and warm-up (median)", mb(npx.idle), "10"],
      [`\`npx lyra agent\`: serving ${STREAMS} streams (peak)`, mb(npx.peak), "many"],
      ["the unit (compiled): start-up to serving (spawn → 4 roles answer), ms", fmt(startupMs), "1"],
      ["the unit: idle, after warm-up (median)", mb(idle), "10"],
      [`the unit: serving ${STREAMS} streams (peak)`, mb(peak), "many"],
      ["the unit: high-water mark over the whole run (VmHWM)", mb(hwm), "1"],
      [
        `the unit with node ${LITE_FLAGS.join(" ")} (the unit before): idle / ${STREAMS} streams`,
        `${mb(lite.idle)} / ${mb(lite.peak)}`,
        "10 / many",
      ],
      ...floor.map((f) => [`floor: ${f.step}`, mb(f.rss_mb), "1"]),
    ];
    return {
      name: "memory",
      title: "5. Memory of an agent host (`lyra agent`, scripted committee config)",
      table: rows,
      notes: [
        `${STREAMS} voice streams of 42 words at ${WORD_DELAY_MS} ms per word, ${fmt(streamSeconds)} s; ` +
          `at most ${maxInFlight} streaming at once; RSS sampled every 10 ms`,
        "the scripted committee config (scripted backend: no model, no Ollama); `npx lyra agent` run from the repository root",
        `Node ${process.version}, the unit: as infra/systemd runs it: ` +
          `node ${AGENT_FLAGS.join(" ")} dist/agents/cli/lyra.js, NODE_OPTIONS=${AGENT_NODE_OPTIONS}`,
        `the ${LITE_FLAGS.join(" ")} row: V8 without its optimising tiers, the unit while the idle target was 80 MB`,
        "floor rows: the TypeScript sources, step by step, " +
          "as `node test/bench/rss-floor.ts` loads them (compiled JavaScript saves the stripping)",
      ],
      json: {
        idle_rss_mb: Math.round(idle * 10) / 10,
        busy_peak_rss_mb: Math.round(peak * 10) / 10,
        vm_hwm_mb: Math.round(hwm * 10) / 10,
        streams: STREAMS,
        max_in_flight: maxInFlight,
        word_delay_ms: WORD_DELAY_MS,
        node_options: AGENT_NODE_OPTIONS,
        node_flags: AGENT_FLAGS,
        startup_ms: Math.round(startupMs),
        npx_agent: { idle_rss_mb: Math.round(npx.idle * 10) / 10, busy_peak_rss_mb: Math.round(npx.peak * 10) / 10 },
        lite_agent: {
          node_flags: LITE_FLAGS,
          idle_rss_mb: Math.round(lite.idle * 10) / 10,
          busy_peak_rss_mb: Math.round(lite.peak * 10) / 10,
        },
        floor,
      },
      targets: [
        {
          name: "Agent idle RSS as `npx lyra agent` starts it",
          goal: `≤ ${IDLE_TARGET_MB} MB`,
          figure: `${mb(npx.idle)} MB`,
          met: npx.idle <= IDLE_TARGET_MB,
        },
        {
          name: `Agent host RSS, ${STREAMS} streams`,
          goal: `≤ ${BUSY_TARGET_MB} MB`,
          figure: `${mb(peak)} MB`,
          met: peak <= BUSY_TARGET_MB,
        },
        {
          name: "Agent start-up to serving",
          goal: `≤ ${fmt(STARTUP_TARGET_MS)} ms`,
          figure: `${fmt(startupMs)} ms`,
          met: startupMs <= STARTUP_TARGET_MS,
        },
      ],
    };
  } finally {
    rmSync(dirname(cfgPath), { recursive: true, force: true });
  }
}
