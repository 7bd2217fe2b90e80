/**
 * The compute server's sandbox, measured against a baseline in the same run:
 *   bare     — python3 started directly, unsandboxed, running print(1) (what any Python costs);
 *   startup  — a sandbox started (setpriv when root, bwrap, python3 and the driver) and its first, empty call answered;
 *   oneshot  — tools/call python print(1) over NATS, sessions off (a fresh sandbox per call);
 *   session  — the same with sessions on, in one conversation (a warm sandboxed Python);
 *   calc     — tools/call calculate 2^64 over NATS (no sandbox).
 */
import { spawn } from "node:child_process";
import { connectMesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { parseComputeOptions, probeSandbox, startSandbox } from "../../tools/builtin/compute/index.ts";
import { createMcpClient, startToolHost } from "../../tools/index.ts";
import { MetaKey } from "../../tools/wire.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, rounded, summarize, timeConcurrent, type Summary } from "./stats.ts";

const ROUNDS = 5;
type Way = "bare" | "startup" | "oneshot" | "session" | "calc";
const WAYS: Way[] = ["bare", "startup", "oneshot", "session", "calc"];
const LABEL: Record<Way, string> = {
  bare: "baseline: python3 -c print(1), unsandboxed spawn",
  startup: "sandbox start-up (bwrap + python3 + driver, first empty call)",
  oneshot: "NATS → python print(1), fresh sandbox per call",
  session: "NATS → python print(1), warm session",
  calc: "NATS → calculate 2^64",
};
const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };

function bare(python: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(python, ["-I", "-c", "print(1)"], { stdio: ["ignore", "pipe", "ignore"], env: {} });
    c.stdout.resume();
    c.on("error", reject);
    c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`python3 exited ${code}`))));
  });
}

export async function compute(ctx: BenchContext): Promise<SectionResult> {
  const n = ctx.quick ? 30 : 100;
  const o = parseComputeOptions("compute", {});
  const refusal = await probeSandbox(o);
  if (refusal) throw new Error(`bench compute: the sandbox does not work here (${refusal})`);

  await using server = await startNatsServer({ jetstream: false });
  await using hostMesh = await connectMesh({ servers: server.url, name: "bench-compute-host" });
  await using callerMesh = await connectMesh({ servers: server.url, name: "bench-compute-caller" });
  await using _host = await startToolHost(hostMesh, {
    tenant: "bench",
    host: "bench",
    // One session and one call at a time are all the bench uses: on a host without a cgroup v2 to
    // bound them, the defaults' rlimit worst case (16 sessions, 2 calls) passes memory_total_mb.
    servers: {
      compute: { builtin: "compute" },
      computes: { builtin: "compute", options: { sessions: true, max_sessions: 1, max_concurrent: 1 } },
    },
    log: silentLogger,
  });
  const mcp = createMcpClient(callerMesh, { tenant: "bench", user: "bench" });
  let id = 0;
  const call = async (server: string, name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}) => {
    const res = await mcp.request(server, {
      jsonrpc: "2.0",
      id: ++id,
      method: "tools/call",
      params: { name, arguments: args, _meta: { ...META, ...meta } },
    });
    if ("error" in res) throw new Error(res.error.message);
    const r = res.result as { isError?: boolean; content: { text: string }[] };
    if (r.isError) throw new Error(r.content[0]?.text);
  };
  const once: Record<Way, () => Promise<unknown>> = {
    bare: () => bare(o.python_path),
    startup: async () => {
      const box = startSandbox(o, false);
      const r = await box.run("pass");
      box.kill();
      if (!r.ok) throw new Error(r.error);
    },
    oneshot: () => call("compute", "python", { code: "print(1)" }),
    session: () => call("computes", "python", { code: "print(1)" }, { [MetaKey.User]: "bench", [MetaKey.Conversation]: "bench" }),
    calc: () => call("compute", "calculate", { expression: "2^64" }),
  };

  ctx.progress(`compute: ${n} calls each way, 1 in flight`);
  const samples: Record<Way, number[]> = { bare: [], startup: [], oneshot: [], session: [], calc: [] };
  await ctx.measure("compute", async () => {
    for (const w of WAYS) await timeConcurrent(3, 1, once[w]);
    for (let r = 0; r < ROUNDS; r++) for (const w of WAYS) samples[w].push(...(await timeConcurrent(Math.ceil(n / ROUNDS), 1, once[w])));
  });
  await mcp.close();

  const stats = Object.fromEntries(WAYS.map((w) => [w, summarize(samples[w])])) as Record<Way, Summary>;
  const ratio = (w: Way) => stats[w].p50 / stats.bare.p50;
  const rows = [["way", "N", "p50 ms", "p99 ms", "p50 ÷ baseline"]];
  for (const w of WAYS) rows.push([LABEL[w], String(stats[w].n), fmt(stats[w].p50), fmt(stats[w].p99), `${fmt(ratio(w))}×`]);
  return {
    name: "compute",
    title: "9. compute: sandbox start-up and a trivial python call (ms)",
    table: rows,
    notes: [
      `warm-up 3 per way; ${ROUNDS} interleaved rounds; ` +
        `default limits; ${process.getuid?.() === 0 ? "as root, so each sandbox starts through setpriv" : "not root: bwrap directly"}`,
      `sandbox start-up p50 ${fmt(stats.startup.p50, "ms")} ` +
        `= ${fmt(ratio("startup"))}× a bare python3 start (${fmt(stats.bare.p50, "ms")}); ` +
        `a one-shot python call over NATS ${fmt(stats.oneshot.p50, "ms")} (${fmt(ratio("oneshot"))}×); ` +
        `a warm session ${fmt(stats.session.p50, "ms")}`,
    ],
    json: {
      n,
      rounds: ROUNDS,
      ...Object.fromEntries(WAYS.map((w) => [w, { ...rounded(stats[w]), ratio_p50: Math.round(ratio(w) * 1000) / 1000 }])),
    },
    targets: [],
  };
}
