/**
 * Hop overhead: the same request three ways, on one nats-server, in one run:
 *   raw   — core NATS request-reply to a plain subscriber that answers at once (the floor);
 *   lyra  — a role call (client → responder whose handler yields the answer at once): codec,
 *           zod validation, the Agent Protocol frames (ack, response, final, terminator);
 *   http  — POST /api/chat (stream: false) to the Ollama double: what a caller without the mesh pays;
 *   plain — `nats req --wait-for-empty lyra.<role> '<prompt>'`: a plain-text request to the same
 *           responder, which answers an Agent Protocol client with the ack, one JSON response and
 *           the terminator (no stream); timed to the terminator.
 * At 1 and at 64 requests in flight. The three are interleaved in rounds, so drift in the
 * machine's load hits all three alike.
 */
import { PerformanceObserver } from "node:perf_hooks";
import { connectMesh } from "../../mesh/connect.ts";
import { createRoleClient, serveRole } from "../../mesh/rolecall/index.ts";
import { encode, Encoding, type RoleRequest } from "../../schemas/index.ts";
import { startOllamaDouble } from "../doubles/ollama.ts";
import { finalInfo } from "../fixtures/scripted.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import type { BenchContext, SectionResult, Target } from "./report.ts";
import { fmt, rounded, summarize, timeConcurrent, type Summary } from "./stats.ts";

const ROUNDS = 5;
const MODEL = "qwen3:8b";
const PROMPT = "What is the capital of France?";
const ANSWER = "Paris.";

type Way = "raw" | "lyra" | "plain" | "http";
const WAYS: Way[] = ["raw", "lyra", "plain", "http"];
const LABEL: Record<Way, string> = {
  raw: "raw NATS request-reply",
  lyra: "Lyra role call",
  plain: "nats req to the role (plain text)",
  http: "HTTP /api/chat (Ollama double)",
};

export async function hop(ctx: BenchContext): Promise<SectionResult> {
  const n1 = ctx.quick ? 600 : 3000;
  const n64 = ctx.quick ? 2000 : 10_000;
  const warmup = ctx.quick ? 200 : 500;

  await using server = await startNatsServer({ jetstream: false });
  await using agent = await connectMesh({ servers: server.url, name: "bench-hop-agent" });
  await using caller = await connectMesh({ servers: server.url, name: "bench-hop-caller" });
  await using ollama = await startOllamaDouble({ models: [MODEL], parallel: 10_000, reply: () => ANSWER });
  const info = finalInfo("bench", "echo");
  await using _responder = await serveRole(agent, {
    role: "echo",
    host: "bench",
    concurrency: 256,
    queueSize: 256,
    heartbeatIntervalS: 0,
    async *handler() {
      yield { type: "response", data: ANSWER };
      yield { type: "final", data: info };
    },
  });
  // The floor: a subscriber that answers with a body the size of Lyra's response chunk.
  const rawReply = encode({ type: "response", data: ANSWER }, Encoding.Msgpack);
  agent.nc.subscribe("bench.raw", { callback: (_e, m) => void m.respond(rawReply) });
  await agent.nc.flush();
  const client = createRoleClient(caller);
  const request: RoleRequest = { messages: [{ role: "user", content: PROMPT }] };
  const rawBody = encode(request, Encoding.Msgpack);
  const httpBody = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: PROMPT }], stream: false });
  const url = `${ollama.url}/api/chat`;

  const once: Record<Way, () => Promise<unknown>> = {
    raw: () => caller.nc.request("bench.raw", rawBody, { timeout: 5000 }),
    lyra: () => client.call("echo", request),
    plain: async () => {
      // Reads to the zero-byte terminator (the sentinel), as an Agent Protocol caller does.
      for await (const m of await caller.nc.requestMany("lyra.echo", PROMPT, { strategy: "sentinel", maxWait: 5000 })) void m;
    },
    http: async () => {
      const res = await fetch(url, { method: "POST", body: httpBody, headers: { "content-type": "application/json" } });
      if (!res.ok) throw new Error(`Ollama double answered ${res.status}`);
      await res.json();
    },
  };

  // Garbage-collection pauses while each way runs: what the tail of this process's latencies is made of.
  const pauses: { at: number; ms: number }[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ at: e.startTime, ms: e.duration });
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  type Gc = { pauses: number; total_ms: number; max_ms: number; per_1000_calls: number };
  const measure = async (inFlight: number, total: number) => {
    const samples: Record<Way, number[]> = { raw: [], lyra: [], plain: [], http: [] };
    const windows: Record<Way, [number, number][]> = { raw: [], lyra: [], plain: [], http: [] };
    for (const w of WAYS) await timeConcurrent(warmup, inFlight, once[w]);
    for (let r = 0; r < ROUNDS; r++) {
      for (const w of WAYS) {
        const t0 = performance.now();
        samples[w].push(...(await timeConcurrent(Math.ceil(total / ROUNDS), inFlight, once[w])));
        windows[w].push([t0, performance.now()]);
      }
    }
    await new Promise((r) => setImmediate(r)); // the observer reports asynchronously
    const gc = Object.fromEntries(
      WAYS.map((w) => {
        const mine = pauses.filter((p) => windows[w].some(([a, b]) => p.at >= a && p.at < b));
        const totalMs = mine.reduce((a, p) => a + p.ms, 0);
        return [
          w,
          {
            pauses: mine.length,
            total_ms: totalMs,
            max_ms: Math.max(0, ...mine.map((p) => p.ms)),
            per_1000_calls: (mine.length * 1000) / samples[w].length,
          },
        ];
      }),
    ) as Record<Way, Gc>;
    return { stats: Object.fromEntries(WAYS.map((w) => [w, summarize(samples[w])])) as Record<Way, Summary>, gc };
  };

  ctx.progress(`hop: 1 in flight, ${n1} requests each way`);
  const m1 = await ctx.measure("hop-1", () => measure(1, n1));
  const at1 = m1.stats;
  ctx.progress(`hop: 64 in flight, ${n64} requests each way`);
  const m64 = await ctx.measure("hop-64", () => measure(64, n64));
  gcObserver.disconnect();

  const rows = [["way", "in flight", "N", "p50 ms", "p95 ms", "p99 ms", "× raw p50", "GC pauses /1000", "GC max ms"]];
  for (const [inFlight, m] of [
    [1, m1],
    [64, m64],
  ] as const) {
    for (const w of WAYS) {
      const s = m.stats[w];
      rows.push([
        LABEL[w],
        String(inFlight),
        String(s.n),
        fmt(s.p50),
        fmt(s.p95),
        fmt(s.p99),
        fmt(s.p50 / m.stats.raw.p50),
        fmt(m.gc[w].per_1000_calls),
        fmt(m.gc[w].max_ms),
      ]);
    }
  }
  const ratioP50 = at1.lyra.p50 / at1.raw.p50;
  const targets: Target[] = [
    {
      name: "Lyra role call p50 (1 in flight)",
      goal: `≤ 2 × raw p50 = ${fmt(2 * at1.raw.p50, "ms")}`,
      figure: `${fmt(at1.lyra.p50, "ms")} (${fmt(ratioP50)} × raw)`,
      met: ratioP50 <= 2,
    },
    {
      name: "Lyra role call p99 (1 in flight)",
      goal: `≤ raw p99 + 1 ms = ${fmt(at1.raw.p99 + 1, "ms")}`,
      figure: fmt(at1.lyra.p99, "ms"),
      met: at1.lyra.p99 <= at1.raw.p99 + 1,
    },
  ];
  const asJson = (m: { stats: Record<Way, Summary>; gc: Record<Way, Gc> }) => ({
    ...Object.fromEntries(WAYS.map((w) => [w, rounded(m.stats[w])])),
    ratio_lyra_raw_p50: Math.round((m.stats.lyra.p50 / m.stats.raw.p50) * 100) / 100,
    ratio_lyra_raw_p99: Math.round((m.stats.lyra.p99 / m.stats.raw.p99) * 100) / 100,
    gc_pauses: Object.fromEntries(WAYS.map((w) => [w, rounded(m.gc[w])])),
  });
  return {
    name: "hop",
    title: "1. Hop overhead (request → complete answer, ms)",
    table: rows,
    notes: [
      `warm-up ${warmup} per way; ${ROUNDS} interleaved rounds; msgpack; ` +
        `caller, responder and HTTP double in one process, nats-server local`,
      "Lyra role call = client.call(): Lyra-Stream request, ack + response + final + terminator",
      "GC pauses = V8 garbage collections (both ends of every call run in this process) per 1000 calls while that way ran",
    ],
    json: { warmup, rounds: ROUNDS, in_flight_1: asJson(m1), in_flight_64: asJson(m64) },
    targets,
  };
}
