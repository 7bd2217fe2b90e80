/**
 * Tool calls: the same MCP server (server-everything, over stdio) called two ways, in one run:
 *   direct — the MCP SDK's Client on a stdio pipe to the server (what a process pays without the mesh);
 *   nats   — the caller as a specialist's tool loop is (createMcpClient: one JSON-RPC request)
 *            over NATS → `lyra tools`' bridge (the SDK's Client) → the same kind of stdio child;
 *   natsSdk — the same, with the SDK's own Client on NatsClientTransport as the caller.
 * Plus the built-in clock over NATS (served by the SDK's per-request handler in the tool host).
 * At 1 in flight (latency, interleaved rounds) and at 64 in flight (calls/s). Then the result
 * cache: a slow tool cached and not (tool-cache.ts).
 */
import { createRequire } from "node:module";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { connectMesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { connectSdkClient, createMcpClient, startToolHost } from "../../tools/index.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import type { BenchContext, SectionResult, Target } from "./report.ts";
import { fmt, rounded, summarize, timeConcurrent, type Summary } from "./stats.ts";
import { toolCacheFigures } from "./tool-cache.ts";

const ROUNDS = 5;
const EVERYTHING = createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/dist/index.js");

type Way = "direct" | "nats" | "natsSdk" | "clock";
const WAYS: Way[] = ["direct", "nats", "natsSdk", "clock"];
const LABEL: Record<Way, string> = {
  direct: "stdio, SDK Client direct (server-everything echo)",
  nats: "NATS → lyra tools bridge → stdio (same server, echo)",
  natsSdk: "the same, SDK Client over NatsClientTransport",
  clock: "NATS → built-in clock (now)",
};
const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };

export async function tools(ctx: BenchContext): Promise<SectionResult> {
  const n1 = ctx.quick ? 500 : 2000;
  const n64 = ctx.quick ? 2000 : 8000;
  const warmup = ctx.quick ? 100 : 300;

  const cache = await toolCacheFigures(ctx);
  await using server = await startNatsServer({ jetstream: false });
  await using hostMesh = await connectMesh({ servers: server.url, name: "bench-tools-host" });
  await using callerMesh = await connectMesh({ servers: server.url, name: "bench-tools-caller" });
  await using _host = await startToolHost(hostMesh, {
    tenant: "bench",
    host: "bench",
    servers: { everything: { command: process.execPath, args: [EVERYTHING, "stdio"], env: {} }, clock: { builtin: "clock" } },
    // No JetStream here: these rows measure the wire and the bridge; the cache has rows of its own.
    cache: { enabled: false, bucket: "LYRA_TOOL_CACHE", max_ttl_s: 3600 },
    log: silentLogger,
  });
  const mcp = createMcpClient(callerMesh, { tenant: "bench", user: "bench" });
  const overNats = await connectSdkClient(mcp, "everything");
  const clock = await connectSdkClient(mcp, "clock");
  const direct = new Client({ name: "bench-direct", version: "0.1.0" });
  await direct.connect(new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, "stdio"], stderr: "ignore" }));

  let id = 0;
  const once: Record<Way, () => Promise<unknown>> = {
    direct: () => direct.callTool({ name: "echo", arguments: { message: "hello" } }),
    nats: async () => {
      const res = await mcp.request("everything", {
        jsonrpc: "2.0",
        id: ++id,
        method: "tools/call",
        params: { name: "echo", arguments: { message: "hello" }, _meta: META },
      });
      if ("error" in res) throw new Error(res.error.message);
    },
    natsSdk: () => overNats.callTool({ name: "echo", arguments: { message: "hello" } }),
    clock: () => clock.callTool({ name: "now", arguments: { timezone: "UTC" } }),
  };
  const measure = async (inFlight: number, total: number) => {
    const samples: Record<Way, number[]> = { direct: [], nats: [], natsSdk: [], clock: [] };
    const wall: Record<Way, number> = { direct: 0, nats: 0, natsSdk: 0, clock: 0 };
    for (const w of WAYS) await timeConcurrent(warmup, inFlight, once[w]);
    for (let r = 0; r < ROUNDS; r++) {
      for (const w of WAYS) {
        const t0 = performance.now();
        samples[w].push(...(await timeConcurrent(Math.ceil(total / ROUNDS), inFlight, once[w])));
        wall[w] += performance.now() - t0;
      }
    }
    const stats = Object.fromEntries(WAYS.map((w) => [w, summarize(samples[w])])) as Record<Way, Summary>;
    const perSecond = Object.fromEntries(WAYS.map((w) => [w, (samples[w].length * 1000) / wall[w]])) as Record<Way, number>;
    return { stats, perSecond };
  };

  ctx.progress(`tools: 1 in flight, ${n1} calls each way`);
  const m1 = await ctx.measure("tools-1", () => measure(1, n1));
  ctx.progress(`tools: 64 in flight, ${n64} calls each way`);
  const m64 = await ctx.measure("tools-64", () => measure(64, n64));
  await overNats.close();
  await clock.close();
  await direct.close();
  await mcp.close();

  const rows = [["way", "in flight", "N", "p50 ms", "p95 ms", "p99 ms", "calls/s"]];
  for (const [inFlight, m] of [
    [1, m1],
    [64, m64],
  ] as const) {
    for (const w of WAYS) {
      const s = m.stats[w];
      rows.push([LABEL[w], String(inFlight), String(s.n), fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(m.perSecond[w])]);
    }
  }
  rows.push(...cache.rows);
  const overhead = m1.stats.nats.p50 - m1.stats.direct.p50;
  const targets: Target[] = [
    {
      name: "tool call over NATS (as the tool loop calls), p50 overhead vs direct stdio (1 in flight)",
      goal: "≤ 1 ms",
      figure: `${fmt(overhead, "ms")} (${fmt(m1.stats.nats.p50, "ms")} vs ${fmt(m1.stats.direct.p50, "ms")})`,
      met: overhead <= 1,
    },
    ...cache.targets,
  ];
  const asJson = (m: { stats: Record<Way, Summary>; perSecond: Record<Way, number> }) => ({
    ...Object.fromEntries(WAYS.map((w) => [w, { ...rounded(m.stats[w]), calls_per_s: Math.round(m.perSecond[w]) }])),
  });
  return {
    name: "tools",
    title: "6. Tool calls (MCP request → result, ms)",
    table: rows,
    notes: [
      `warm-up ${warmup} per way; ${ROUNDS} interleaved rounds; ` +
        `caller and tool host in this process on separate connections, the stdio servers in child processes, nats-server local`,
      `p50 overhead of the mesh over a direct stdio call: ${fmt(overhead, "ms")} at 1 in flight ` +
        `(${fmt(m1.stats.natsSdk.p50 - m1.stats.direct.p50, "ms")} with the SDK Client as the caller); ` +
        `at 64 in flight ${fmt(m64.perSecond.nats)} calls/s over NATS vs ${fmt(m64.perSecond.direct)} direct`,
      "the NATS path runs the SDK's Client twice (the bridge's to the child, " +
        "and the caller's in the SDK row): most of the difference is its zod validation of each result",
      ...cache.notes,
    ],
    json: {
      warmup,
      rounds: ROUNDS,
      in_flight_1: asJson(m1),
      in_flight_64: asJson(m64),
      overhead_p50_ms: Math.round(overhead * 1000) / 1000,
      overhead_sdk_p50_ms: Math.round((m1.stats.natsSdk.p50 - m1.stats.direct.p50) * 1000) / 1000,
      cache: cache.json,
    },
    targets,
  };
}
