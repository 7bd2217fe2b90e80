/**
 * Committee throughput: user messages per second from the inbox (publishInbox) through the
 * conductor (router → specialist → voice role calls, log appends, outbox) to the stored final
 * reply. Every part is its own process, as in production: nats-server, `lyra agent` (scripted
 * committee, instant models) and `lyra core` as the systemd units run them (compiled), and the
 * front door (frontdoor-proc.ts). Conversations run in parallel, each closed-loop: a user sends
 * the next message when the reply to the last one has arrived. Latency = publish → final reply
 * seen on the outbox subject. The curve: 1, 16, 64 and 256 conversations with 1 conductor, and
 * 64 with 2. The target is the mesh's CPU per turn (conductor, agent and nats-server together) at 64
 * conversations; the variants in the same run: a step's log events as one atomic batch
 * (`conductor.atomic_log: true`) and the agent on the old unit's `--lite-mode` (the baseline).
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { writeCommitteeConfig } from "../harness/committee-fixture.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { AGENT_FLAGS, buildDist } from "./memory.ts";
import { cpuMeter } from "./procfs.ts";
import { CONDUCTOR_NODE_OPTIONS, runFrontDoor, startAgent, startConductor, type Proc } from "./procs.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, rounded, summarize, type Summary } from "./stats.ts";

/** Mesh CPU per committee turn, all of the mesh's processes (conductor, agent, nats-server), ms. */
const TARGET_CPU_MS = 4;
/** The row the target reads: 1 conductor, this many conversations. */
const TARGET_CONVERSATIONS = 64;
/** The agent's V8 flags before the 80 MB idle target was retired: the baseline row. */
const LITE_AGENT_FLAGS = ["--lite-mode"];
/** The mesh's processes: the front door is the bench's stand-in for Discord, shown but not counted. */
const MESH_PROCS = ["agent", "conductor-0", "conductor-1", "nats-server"];

interface RunVariant {
  agentFlags?: readonly string[];
  /** conductor.atomic_log; default false (the config's default). */
  atomicLog?: boolean;
  label?: string;
}

interface RunFigures {
  agentFlags: readonly string[];
  atomicLog: boolean;
  label: string;
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
  v: RunVariant = {},
): Promise<RunFigures> {
  const agentFlags = v.agentFlags ?? AGENT_FLAGS;
  const atomicLog = v.atomicLog ?? false;
  await using server = await startNatsServer();
  const cfgPath = writeCommitteeConfig({
    natsUrl: server.url,
    slots: 256,
    queue: 1000,
    maxParallel: Math.max(64, conversations),
    atomicLog,
  });
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
      atomicLog,
      label: v.label ?? "unit",
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

/** Mesh CPU per turn (ms): the mesh's processes' CPU (% of a core) over the turns per second. */
const meshCpuMs = (r: RunFigures) => (MESH_PROCS.reduce((a, p) => a + (r.cpu[p] ?? 0), 0) * 10) / r.perSecond;
const allCpuMs = (r: RunFigures) => (Object.values(r.cpu).reduce((a, b) => a + b, 0) * 10) / r.perSecond;
const cpuCols = ["agent", "conductor-0", "conductor-1", "nats-server", "frontdoor"];

function tableRows(runs: RunFigures[]): string[][] {
  const head = ["run", "agent", "conductors", "conversations", "messages", "messages/s", "p50 ms", "p99 ms", "lost", "dup"];
  return [
    [...head, ...cpuCols.map((c) => `CPU ${c} %`), "mesh CPU ms per turn", "all CPU ms per turn"],
    ...runs.map((r) => [
      r.label,
      r.agentFlags.join(" ") || "(none)",
      String(r.conductors),
      String(r.conversations),
      String(r.messages),
      fmt(r.perSecond),
      fmt(r.latency.p50),
      fmt(r.latency.p99),
      String(r.lost),
      String(r.duplicated),
      ...cpuCols.map((c) => (r.cpu[c] === undefined ? "—" : String(r.cpu[c]))),
      fmt(meshCpuMs(r)),
      fmt(allCpuMs(r)),
    ]),
  ];
}

export async function committee(ctx: BenchContext): Promise<SectionResult> {
  ctx.progress("committee: npm run build (agent and conductor run compiled, as the systemd units run them)");
  buildDist();
  const plan: [number, number, number][] = ctx.quick
    ? [
        [1, 1, 30],
        [1, 16, 10],
        [1, TARGET_CONVERSATIONS, 6],
        [1, 256, 2],
        [2, 64, 4],
      ]
    : [
        [1, 1, 100],
        [1, 16, 40],
        [1, TARGET_CONVERSATIONS, 16],
        [1, 256, 6],
        [2, 64, 16],
        [2, 256, 6],
      ];
  const runs: RunFigures[] = [];
  for (const [c, convs, turns] of plan) runs.push(await runOnce(ctx, c, convs, turns));
  // The variants, at the target's row: the log's atomic batches, and the old unit's agent (the baseline).
  const [, , targetTurns] = plan[2]!;
  const batched = await runOnce(ctx, 1, TARGET_CONVERSATIONS, targetTurns, { atomicLog: true, label: "atomic log batch" });
  const before = await runOnce(ctx, 1, TARGET_CONVERSATIONS, targetTurns, { agentFlags: LITE_AGENT_FLAGS, label: "before" });
  runs.push(batched, before);
  const target = runs[2]!;
  return {
    name: "committee",
    title: "2. Committee throughput and CPU per turn, every part its own process (inbox → router → specialist → voice → outbox)",
    table: tableRows(runs),
    notes: [
      "closed-loop conversations; scripted models, no delay; file-backed streams; conductor max_parallel = max(64, conversations)",
      `agent: node ${AGENT_FLAGS.join(" ") || "(no flags)"} dist/agents/cli/lyra.js agent (as lyra-agent@.service); ` +
        `conductor: NODE_OPTIONS="${CONDUCTOR_NODE_OPTIONS}" node dist/agents/cli/lyra.js core (as lyra-core.service); ` +
        `front door: test/bench/frontdoor-proc.ts`,
      "CPU = % of one core per process over the measured phase (over 100 = GC and I/O threads too); " +
        "mesh CPU ms per turn = agent + conductors + nats-server, per committee turn; all = with the bench's front door",
      `variants, ${TARGET_CONVERSATIONS} conversations: "atomic log batch" = conductor.atomic_log: true (routed + ` +
        `specialist_started as one atomic batch, one ack); "before" = the agent on ${LITE_AGENT_FLAGS.join(" ")} (the unit ` +
        `until the 80 MB idle target was retired)`,
    ],
    json: {
      runs: runs.map((r) => ({
        label: r.label,
        agent_flags: r.agentFlags,
        atomic_log: r.atomicLog,
        conductors: r.conductors,
        conversations: r.conversations,
        messages: r.messages,
        seconds: Math.round(r.seconds * 100) / 100,
        messages_per_s: Math.round(r.perSecond),
        latency_ms: rounded(r.latency),
        lost: r.lost,
        duplicated: r.duplicated,
        cpu_percent: r.cpu,
        mesh_cpu_ms_per_turn: Math.round(meshCpuMs(r) * 100) / 100,
      })),
    },
    targets: [
      {
        name: `Mesh CPU per committee turn (agent + conductor + nats-server), ${TARGET_CONVERSATIONS} conversations`,
        goal: `≤ ${fmt(TARGET_CPU_MS)} ms`,
        figure: `${fmt(meshCpuMs(target))} ms (before: ${fmt(meshCpuMs(before))}; atomic log batch: ${fmt(meshCpuMs(batched))})`,
        met: meshCpuMs(target) <= TARGET_CPU_MS,
      },
    ],
  };
}
