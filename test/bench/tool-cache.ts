/**
 * The tool-result cache, for the `tools` section: a tool on a tool host with JetStream, called over
 * NATS as the tool loop calls it, in interleaved rounds. A slow one (it sleeps SLOW_MS) two ways:
 *   slowOff — a tool host with tools.cache.enabled false (the baseline: no cache at all);
 *   slowHit — cache on, result marked cacheable, the same arguments: answered from the KV bucket.
 * What the cache costs a call it cannot serve, on the same tool with no sleep (a sleep's jitter
 * would hide it): off (baseline), unmarked (a lookup that misses, nothing stored), miss (marked,
 * new arguments each time: a lookup that misses, then the store).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { connectMesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import type { BuiltinToolServer } from "../../tools/builtin/index.ts";
import { createMcpClient, MetaKey, startToolHost } from "../../tools/index.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import type { BenchContext, Target } from "./report.ts";
import { fmt, rounded, summarize, timeConcurrent, type Summary } from "./stats.ts";

/** How long the slow tool takes, ms (a web lookup's order of magnitude, kept short for the bench). */
const SLOW_MS = 100;
const ROUNDS = 5;
/** Cached p50 at most this, ms: a KV get and one NATS hop, not the tool. */
const HIT_TARGET_MS = 5;
/** What the cache may add to a call it cannot serve (lookup, and store when marked), p50 ms. */
const MISS_OVERHEAD_TARGET_MS = 2;

type Way = "slowOff" | "slowHit" | "off" | "unmarked" | "miss";
const WAYS: Way[] = ["slowOff", "slowHit", "off", "unmarked", "miss"];
const LABEL: Record<Way, string> = {
  slowOff: `slow tool (${SLOW_MS} ms) over NATS, tool host without the cache`,
  slowHit: "the same, cache on, result marked cacheable: cache hit",
  off: "fast tool (no sleep), tool host without the cache",
  unmarked: "the same, cache on, result not marked: lookup, not cached",
  miss: "the same, marked cacheable, new arguments: miss, stored",
};
const META = { [MetaKey.ProtocolVersion]: "2026-07-28", [MetaKey.ClientCapabilities]: {} };

const slowBuiltin: BuiltinToolServer = {
  description: "a slow lookup",
  start: () => ({
    create: () => {
      const s = new McpServer({ name: "slow", version: "0.1.0" });
      const input = z.object({ q: z.string(), mark: z.boolean(), slow: z.boolean() });
      s.registerTool("lookup", { inputSchema: input }, async ({ q, mark, slow }) => {
        if (slow) await sleep(SLOW_MS);
        return { content: [{ type: "text", text: `answer to ${q}` }], ...(mark ? { ttlMs: 600_000, cacheScope: "public" } : {}) };
      });
      return s;
    },
  }),
};

export interface ToolCacheFigures {
  rows: string[][];
  notes: string[];
  targets: Target[];
  json: Record<string, unknown>;
}

export async function toolCacheFigures(ctx: BenchContext): Promise<ToolCacheFigures> {
  const slowPerRound = ctx.quick ? 4 : 10;
  const perRound = ctx.quick ? 100 : 400;
  await using server = await startNatsServer();
  await using hostMesh = await connectMesh({ servers: server.url, name: "bench-toolcache-host" });
  await using callerMesh = await connectMesh({ servers: server.url, name: "bench-toolcache-caller" });
  const host = (tenant: string, enabled: boolean) =>
    startToolHost(hostMesh, {
      tenant,
      host: "bench",
      servers: { slow: { builtin: "slow" } },
      builtins: { slow: slowBuiltin },
      cache: { enabled, bucket: "LYRA_TOOL_CACHE", max_ttl_s: 3600 },
      log: silentLogger,
    });
  await using _on = await host("bench", true);
  await using _off = await host("bench-off", false);
  const mcp = createMcpClient(callerMesh, { tenant: "bench", user: "bench" });
  const mcpOff = createMcpClient(callerMesh, { tenant: "bench-off", user: "bench" });
  let id = 0;
  const call = async (q: string, mark: boolean, slow: boolean, client = mcp) => {
    const res = await client.request("slow", {
      jsonrpc: "2.0",
      id: ++id,
      method: "tools/call",
      params: { name: "lookup", arguments: { q, mark, slow }, _meta: META },
    });
    if ("error" in res) throw new Error(res.error.message);
    return res.result._meta as Record<string, unknown> | undefined;
  };
  if ((await call("warm", true, true))?.[MetaKey.Cached] !== undefined) throw new Error("the first call of 'warm' came from the cache");
  if ((await call("warm", true, true))?.[MetaKey.Cached] !== true) throw new Error("a repeated cacheable call was not a cache hit");
  const once: Record<Way, (i: number) => Promise<unknown>> = {
    slowOff: () => call("warm", true, true, mcpOff),
    slowHit: () => call("warm", true, true),
    off: () => call("same", true, false, mcpOff),
    unmarked: () => call("same", false, false),
    miss: (i) => call(`new ${id}-${i}`, true, false),
  };
  ctx.progress(`tools: result cache, slow tool (${SLOW_MS} ms), ${ROUNDS} rounds`);
  const samples: Record<Way, number[]> = { slowOff: [], slowHit: [], off: [], unmarked: [], miss: [] };
  for (const w of WAYS) if (w !== "slowOff") await timeConcurrent(50, 1, once[w]); // warm-up
  await ctx.measure("tools-cache", async () => {
    for (let r = 0; r < ROUNDS; r++)
      for (const w of WAYS) samples[w].push(...(await timeConcurrent(w === "slowOff" ? slowPerRound : perRound, 1, once[w])));
  });
  await mcp.close();
  await mcpOff.close();
  const s = Object.fromEntries(WAYS.map((w) => [w, summarize(samples[w])])) as Record<Way, Summary>;
  const missOverhead = s.miss.p50 - s.off.p50;
  const speedup = s.slowOff.p50 / s.slowHit.p50;
  return {
    rows: WAYS.map((w) => [LABEL[w], "1", String(s[w].n), fmt(s[w].p50), fmt(s[w].p95), fmt(s[w].p99), fmt(1000 / s[w].mean)]),
    notes: [
      `result cache: tool host with JetStream (file store), KV bucket LYRA_TOOL_CACHE; ${ROUNDS} interleaved rounds; ` +
        `hit p50 ${fmt(s.slowHit.p50, "ms")} vs ${fmt(s.slowOff.p50, "ms")} without the cache (${fmt(speedup)} × faster); ` +
        `what the cache adds to a call it cannot serve: ${fmt(s.unmarked.p50 - s.off.p50, "ms")} (lookup), ` +
        `${fmt(missOverhead, "ms")} (lookup + store) p50`,
    ],
    targets: [
      {
        name: `a cached call of a slow tool (${SLOW_MS} ms) over NATS, p50`,
        goal: `≤ ${HIT_TARGET_MS} ms`,
        figure: `${fmt(s.slowHit.p50, "ms")} (without the cache ${fmt(s.slowOff.p50, "ms")})`,
        met: s.slowHit.p50 <= HIT_TARGET_MS,
      },
      {
        name: "what the cache adds to a call it cannot serve (a miss, then stored, vs no cache), p50",
        goal: `≤ ${MISS_OVERHEAD_TARGET_MS} ms`,
        figure: `${fmt(missOverhead, "ms")} (${fmt(s.miss.p50, "ms")} vs ${fmt(s.off.p50, "ms")})`,
        met: missOverhead <= MISS_OVERHEAD_TARGET_MS,
      },
    ],
    json: {
      slow_ms: SLOW_MS,
      ...Object.fromEntries(WAYS.map((w) => [w, rounded(s[w])])),
      miss_overhead_p50_ms: rounded({ v: missOverhead }).v,
    },
  };
}
