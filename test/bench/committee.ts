/**
 * Committee throughput: user messages per second from the inbox (publishInbox) through the
 * conductor (router → specialist → voice role calls, log appends, outbox) to the stored final
 * reply, with 1 and 2 conductor replicas. Everything but nats-server runs in this process, each
 * part on its own connection: the front door, the agent host (scripted committee, instant
 * models), the conductor(s). Conversations run in parallel, each closed-loop: a user sends the
 * next message when the reply to the last one has arrived. Latency = publish → final reply seen
 * on the outbox subject.
 */
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { startConductor, type Conductor } from "../../mesh/conductor/index.ts";
import { publishInbox } from "../../mesh/frontdoor.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { decodeBody } from "../../mesh/publish.ts";
import { OutboxMessage } from "../../schemas/index.ts";
import { conductorOptions } from "../../agents/host/committee.ts";
import { startAgentHost } from "../../agents/host/host.ts";
import { committeeConfig } from "../harness/committee.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { cpuMeter } from "./procfs.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, rounded, summarize, type Summary } from "./stats.ts";

const CHANNEL = "bench";
const CONVERSATIONS = 64;
const MAX_PARALLEL = 64;
const TARGET_PER_S = 1000;

interface RunFigures {
  replicas: number;
  messages: number;
  seconds: number;
  perSecond: number;
  latency: Summary;
  /** CPU use during the measured phase, % of one core. */
  cpu: Record<string, number>;
  /** NATS messages this process sent and received per turn, all its connections together. */
  natsMsgsPerTurn: number;
}

async function runOnce(ctx: BenchContext, replicas: number, turns: number): Promise<RunFigures> {
  await using server = await startNatsServer();
  const meshes: Mesh[] = [];
  const mesh = async (name: string) => {
    const m = await connectMesh({ servers: server.url, name });
    meshes.push(m);
    return m;
  };
  const conductors: Conductor[] = [];
  const config = committeeConfig({ natsUrl: server.url, slots: 256, queue: 1000 });
  const host = await startAgentHost({ config, host: "local", mesh: await mesh("bench-agent"), log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  try {
    for (let i = 0; i < replicas; i++) {
      const cm = await mesh(`bench-core-${i}`);
      conductors.push(await startConductor(cm, { ...conductorOptions(config, cm, silentLogger), maxParallel: MAX_PARALLEL }));
    }
    const front = await mesh("bench-front");
    const waiting = new Map<string, () => void>();
    front.nc.subscribe(`lyra.outbox.${CHANNEL}.*`, {
      callback: (err, m) => {
        if (err) return;
        const o = decodeBody(OutboxMessage, m, "outbox message");
        if (o.final) waiting.get(o.in_reply_to)?.();
      },
    });
    await front.nc.flush();

    const conversation = async (tag: string, c: number, n: number, latencies: number[]) => {
      for (let t = 0; t < n; t++) {
        const id = `${tag}-${c}-${t}`;
        const text = t % 2 === 0 ? `How do I keep basil alive, step ${t}?` : `Why does basil need so much sun, step ${t}?`;
        const replied = new Promise<void>((resolve) => waiting.set(id, resolve));
        const t0 = performance.now();
        await publishInbox(front, { id, channel: CHANNEL, conversation: `${tag}c${c}`, user: { id: "bench" }, text });
        await replied;
        latencies.push(performance.now() - t0);
        waiting.delete(id);
      }
    };
    const phase = async (tag: string, convs: number, n: number) => {
      const latencies: number[] = [];
      await Promise.all(Array.from({ length: convs }, (_, c) => conversation(tag, c, n, latencies)));
      return latencies;
    };

    ctx.progress(`committee: ${replicas} conductor(s), warm-up`);
    await phase("w", 16, 3);
    ctx.progress(`committee: ${replicas} conductor(s), ${CONVERSATIONS} conversations × ${turns} turns`);
    const natsMsgs = () => meshes.reduce((n, m) => n + m.nc.stats().inMsgs + m.nc.stats().outMsgs, 0);
    const cpu = cpuMeter({ bench: process.pid, "nats-server": server.process.pid! });
    const msgs0 = natsMsgs();
    const t0 = performance.now();
    const latencies = await ctx.measure(`committee-${replicas}`, () => phase("m", CONVERSATIONS, turns));
    const seconds = (performance.now() - t0) / 1000;
    const natsMsgsPerTurn = (natsMsgs() - msgs0) / latencies.length;
    return { replicas, messages: latencies.length, seconds, perSecond: latencies.length / seconds, latency: summarize(latencies), cpu: cpu.stop(), natsMsgsPerTurn };
  } finally {
    await Promise.all(conductors.map((c) => c.close()));
    await host.close();
    await Promise.all(meshes.map((m) => m.close()));
  }
}

export async function committee(ctx: BenchContext): Promise<SectionResult> {
  const turns = ctx.quick ? 3 : 12;
  const runs: RunFigures[] = [];
  for (const replicas of [1, 2]) runs.push(await runOnce(ctx, replicas, turns));
  const cpuMsPerTurn = (r: RunFigures, who: string) => ((r.cpu[who]! / 100) * r.seconds * 1000) / r.messages;
  const rows = [["conductors", "messages", "seconds", "messages/s", "p50 ms", "p95 ms", "p99 ms", "CPU bench %", "CPU nats %", "bench CPU ms/msg", "NATS msgs/msg"]];
  for (const r of runs) {
    rows.push([
      String(r.replicas),
      String(r.messages),
      fmt(r.seconds),
      fmt(r.perSecond),
      fmt(r.latency.p50),
      fmt(r.latency.p95),
      fmt(r.latency.p99),
      String(r.cpu.bench),
      String(r.cpu["nats-server"]),
      fmt(cpuMsPerTurn(r, "bench")),
      fmt(r.natsMsgsPerTurn),
    ]);
  }
  const best = Math.max(...runs.map((r) => r.perSecond));
  return {
    name: "committee",
    title: "2. Committee throughput (inbox → router → specialist → voice → outbox)",
    table: rows,
    notes: [
      `${CONVERSATIONS} conversations in parallel × ${turns} turns each, closed-loop; conductor maxParallel ${MAX_PARALLEL}; scripted models, no delay; file-backed streams`,
      "CPU = % of one core over the measured phase (bench = this process: front door, agent host, conductors; over 100 = GC and I/O threads too)",
      "NATS msgs/msg = messages this process's connections sent and received per user message (role calls, streamed text, log appends, acks)",
    ],
    json: {
      conversations: CONVERSATIONS,
      turns_per_conversation: turns,
      max_parallel: MAX_PARALLEL,
      runs: runs.map((r) => ({
        replicas: r.replicas,
        messages: r.messages,
        seconds: Math.round(r.seconds * 100) / 100,
        messages_per_s: Math.round(r.perSecond),
        latency_ms: rounded(r.latency),
        cpu_percent: r.cpu,
        bench_cpu_ms_per_message: Math.round(cpuMsPerTurn(r, "bench") * 100) / 100,
        nats_messages_per_message: Math.round(r.natsMsgsPerTurn * 10) / 10,
      })),
    },
    targets: [{ name: "Committee throughput", goal: `≥ ${fmt(TARGET_PER_S)} messages/s`, figure: `${fmt(best)} messages/s`, met: best >= TARGET_PER_S }],
  };
}
