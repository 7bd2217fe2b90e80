/**
 * Committee throughput: user messages per second from the inbox (publishInbox) through the
 * conductor (router → specialist → voice role calls, log appends, outbox) to the stored final
 * reply. Every part is its own process, as in production: nats-server, `lyra agent` (scripted
 * committee, instant models) and `lyra core` as the systemd units run them (compiled), and the
 * front door (frontdoor-proc.ts). Conversations run in parallel, each closed-loop: a user sends
 * the next message when the reply to the last one has arrived. Latency = publish → final reply
 * seen on the outbox subject. The curve: 1, 16, 64 and 256 conversations with 1 conductor, and
 * 64 with 2.
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { writeCommitteeConfig } from "../harness/committee-fixture.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { AGENT_FLAGS, buildDist, FAST_AGENT_FLAGS } from "./memory.ts";
import { cpuMeter } from "./procfs.ts";
import { CONDUCTOR_NODE_OPTIONS, runFrontDoor, startAgent, startConductor, type Proc } from "./procs.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, rounded, summarize, type Summary } from "./stats.ts";

const TARGET_PER_S = 1000;

interface RunFigures {
  agentFlags: readonly string[];
  conductors: number;
  conversations: number;
  messages: number;
  seconds: number;
  perSecond: number;
  latency: Summary;
  lost: number;
  duplicated: number;
  /** CPU use during the measured phase, % of one core, per process. */
  cpu: Record<string, number>;
}

async function runOnce(
  ctx: BenchContext,
  conductors: number,
  conversations: number,
  turns: number,
  agentFlags = AGENT_FLAGS,
): Promise<RunFigures> {
  await using server = await startNatsServer();
  const cfgPath = writeCommitteeConfig({ natsUrl: server.url, slots: 256, queue: 1000, maxParallel: Math.max(64, conversations) });
  const procs: Proc[] = [];
  try {
    procs.push(await startAgent(server.url, cfgPath, agentFlags));
    for (let i = 0; i < conductors; i++) procs.push(await startConductor(i, cfgPath));
    ctx.progress(`committee: ${conductors} conductor(s), warm-up`);
    const warm = runFrontDoor(server.url, "w", Math.min(16, conversations), 3);
    await warm.result;
    await warm.proc.stop();
    ctx.progress(`committee: ${conductors} conductor(s), ${conversations} conversations × ${turns} turns`);
    const fd = runFrontDoor(server.url, "m", conversations, turns);
    procs.push(fd.proc);
    const pids = Object.fromEntries([...procs.map((p) => [p.name, p.proc.pid!] as const), ["nats-server", server.process.pid!] as const]);
    const cpu = cpuMeter(pids);
    const r = await fd.result;
    const used = cpu.stop();
    return {
      agentFlags,
      conductors,
      conversations,
      messages: r.replies,
      seconds: r.seconds,
      perSecond: r.replies / r.seconds,
      latency: summarize(r.latencies),
      lost: r.lost,
      duplicated: r.duplicated,
      cpu: used,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dirname(cfgPath), { recursive: true, force: true });
  }
}

export async function committee(ctx: BenchContext): Promise<SectionResult> {
  ctx.progress("committee: npm run build (agent and conductor run compiled, as the systemd units run them)");
  buildDist();
  const plan: [number, number, number][] = ctx.quick
    ? [
        [1, 1, 30],
        [1, 16, 10],
        [1, 64, 4],
        [1, 256, 2],
        [2, 64, 4],
      ]
    : [
        [1, 1, 100],
        [1, 16, 40],
        [1, 64, 16],
        [1, 256, 6],
        [2, 64, 16],
        [2, 256, 6],
      ];
  const runs: RunFigures[] = [];
  for (const [c, convs, turns] of plan) runs.push(await runOnce(ctx, c, convs, turns));
  const [, , turns256] = plan[3]!;
  runs.push(await runOnce(ctx, 1, 256, turns256, FAST_AGENT_FLAGS));
  const cpuCols = ["agent", "conductor-0", "conductor-1", "frontdoor", "nats-server"];
  const rows = [
    [
      "agent",
      "conductors",
      "conversations",
      "messages",
      "messages/s",
      "p50 ms",
      "p99 ms",
      "lost",
      "dup",
      ...cpuCols.map((c) => `CPU ${c} %`),
      "CPU ms per message",
    ],
  ];
  for (const r of runs) {
    const cpuMs = (Object.values(r.cpu).reduce((a, b) => a + b, 0) * 10) / r.perSecond; // % of a core → ms per second, per message
    rows.push([
      r.agentFlags.join(" "),
      String(r.conductors),
      String(r.conversations),
      String(r.messages),
      fmt(r.perSecond),
      fmt(r.latency.p50),
      fmt(r.latency.p99),
      String(r.lost),
      String(r.duplicated),
      ...cpuCols.map((c) => (r.cpu[c] === undefined ? "—" : String(r.cpu[c]))),
      fmt(cpuMs),
    ]);
  }
  const unit = runs.filter((r) => r.agentFlags === AGENT_FLAGS);
  const best = (n: number) => Math.max(0, ...unit.filter((r) => r.conductors === n).map((r) => r.perSecond));
  return {
    name: "committee",
    title: "2. Committee throughput, every part its own process (inbox → router → specialist → voice → outbox)",
    table: rows,
    notes: [
      "closed-loop conversations; scripted models, no delay; file-backed streams; conductor max_parallel = max(64, conversations)",
      `agent: node ${AGENT_FLAGS.join(" ")} dist/agents/cli/lyra.js agent (as lyra-agent@.service); ` +
        `conductor: NODE_OPTIONS="${CONDUCTOR_NODE_OPTIONS}" node dist/agents/cli/lyra.js core (as lyra-core.service); ` +
        `front door: test/bench/frontdoor-proc.ts`,
      "CPU = % of one core per process over the measured phase (over 100 = GC and I/O threads too); " +
        "CPU ms per message = all of them together, per committee turn",
      `last row: the agent with ${FAST_AGENT_FLAGS.join(" ")} instead of the ` +
        `unit's ${AGENT_FLAGS.join(" ")} (faster, more RSS: see the memory section); ` +
        `the targets use the unit's rows`,
    ],
    json: {
      runs: runs.map((r) => ({
        agent_flags: r.agentFlags,
        conductors: r.conductors,
        conversations: r.conversations,
        messages: r.messages,
        seconds: Math.round(r.seconds * 100) / 100,
        messages_per_s: Math.round(r.perSecond),
        latency_ms: rounded(r.latency),
        lost: r.lost,
        duplicated: r.duplicated,
        cpu_percent: r.cpu,
      })),
    },
    targets: [1, 2].map((n) => ({
      name: `Committee throughput, ${n} conductor${n > 1 ? "s" : ""}, separate processes`,
      goal: `≥ ${fmt(TARGET_PER_S)} messages/s`,
      figure: `${fmt(best(n))} messages/s`,
      met: best(n) >= TARGET_PER_S,
    })),
  };
}
