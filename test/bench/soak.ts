/**
 * `npm run soak`: 100,000 committee turns through the benchmark mesh (every part its own process,
 * as in the committee section). The resident set of every process is read when 10,000 turns are
 * done and at the end: within 10 % of each other means no leak. Every reply must arrive once.
 *
 *   npm run soak                         100,000 turns, 64 conversations, 1 conductor
 *   npm run soak -- --turns 20000 --conversations 64 --conductors 2
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { writeCommitteeConfig } from "../harness/committee-fixture.ts";
import { requireNatsServer, startNatsServer } from "../harness/nats-server.ts";
import { buildDist } from "./memory.ts";
import { statusMB } from "./procfs.ts";
import { runFrontDoor, startAgent, startConductor, type Proc } from "./procs.ts";
import { fmt, summarize, table } from "./stats.ts";

const { values } = parseArgs({
  options: {
    turns: { type: "string", default: "100000" },
    conversations: { type: "string", default: "64" },
    conductors: { type: "string", default: "1" },
  },
});
const total = Number(values.turns);
const conversations = Number(values.conversations);
const conductors = Number(values.conductors);
const checkpoint = Math.min(10_000, Math.floor(total / 10));
const MAX_GROWTH = 0.1;

requireNatsServer();
console.error("soak: npm run build");
buildDist();
await using server = await startNatsServer();
// The streams at their limits well before the checkpoint, as on a mesh that has run for days: a
// 20 s de-duplication window (production: 2 h; nats-server keeps every message id within it), the
// outbox kept 20 s and the log 8 MB (production: 7 days and 1 GiB; 8 MB is about 4,000 turns), so
// nats-server's RSS shows a leak rather than the data it was told to keep.
const jetstreamLimits = { duplicate_window: "20s", outbox_max_age: "20s", log_max_bytes: "8MB" };
const cfgPath = writeCommitteeConfig({
  natsUrl: server.url,
  slots: 256,
  queue: 1000,
  maxParallel: Math.max(64, conversations),
  jetstream: jetstreamLimits,
});
const procs: Proc[] = [];
let stopping = false;
let turnsDone = 0;
try {
  procs.push(await startAgent(server.url, cfgPath));
  for (let i = 0; i < conductors; i++) procs.push(await startConductor(i, cfgPath));
  // A mesh process that dies mid-soak ends it at once, with what it printed last (the front door
  // would otherwise wait out every turn).
  for (const p of procs) {
    p.proc.once("exit", (code, signal) => {
      if (stopping) return;
      console.error(`soak: ${p.name} exited (${code ?? signal}) after ${turnsDone} turns; its last output:\n${p.output()}`);
      for (const q of procs) q.proc.kill("SIGKILL");
      server.process.kill("SIGKILL");
      process.exit(1);
    });
  }
  // The front door reports its own RSS (it has exited by the end).
  const rss = (frontdoor: number) => ({
    ...Object.fromEntries(
      procs.filter((p) => p.name !== "frontdoor").map((p) => [p.name, statusMB(p.proc.pid!, "VmRSS") ?? Number.NaN] as const),
    ),
    frontdoor,
    "nats-server": statusMB(server.process.pid!, "VmRSS") ?? Number.NaN,
  });
  let atCheckpoint: Record<string, number> | undefined;
  const started = performance.now();
  const fd = runFrontDoor(
    server.url,
    "soak",
    conversations,
    Math.ceil(total / conversations),
    Math.min(1000, checkpoint),
    (n, frontRss) => {
      turnsDone = n;
      if (n % 10_000 === 0) console.error(`soak: ${n} turns, ${fmt(n / ((performance.now() - started) / 1000))}/s`);
      if (n >= checkpoint && !atCheckpoint) atCheckpoint = rss(frontRss);
    },
  );
  procs.push(fd.proc);
  const r = await fd.result;
  await sleep(1000); // let the last turns' garbage be collected as it would be on a running mesh
  const atEnd = rss(r.rss_mb);
  const rows = [["process", `RSS at ${checkpoint} turns MB`, "RSS at end MB", "change", "within 10 %"]];
  let allWithin = true;
  for (const [name, end] of Object.entries(atEnd)) {
    const at = atCheckpoint?.[name] ?? Number.NaN;
    const change = (end - at) / at;
    const ok = Math.abs(change) <= MAX_GROWTH;
    allWithin &&= ok;
    rows.push([name, fmt(at), fmt(end), `${(change * 100).toFixed(1)} %`, ok ? "yes" : "NO"]);
  }
  const lat = summarize(r.latencies);
  console.log(
    `Soak: ${r.replies} committee turns, ${conversations} conversations, ${conductors} conductor(s), ` +
      `${fmt(r.seconds)} s (${fmt(r.replies / r.seconds)} messages/s, p50 ${fmt(lat.p50)} ms, p99 ${fmt(lat.p99)} ms)\n${table(rows)}\n`,
  );
  console.log(
    `Targets\n${table([
      ["target", "goal", "figure", "result"],
      [
        "RSS of every process, checkpoint vs end",
        "within 10 %",
        rows
          .slice(1)
          .map((x) => `${x[0]} ${x[3]}`)
          .join(", "),
        allWithin ? "met" : "NOT MET",
      ],
      [
        "Lost replies",
        "0",
        String(r.lost + Math.max(0, Math.ceil(total / conversations) * conversations - r.replies - r.lost)),
        r.lost === 0 && r.replies === Math.ceil(total / conversations) * conversations ? "met" : "NOT MET",
      ],
      ["Duplicated replies", "0", String(r.duplicated), r.duplicated === 0 ? "met" : "NOT MET"],
    ])}`,
  );
} finally {
  stopping = true;
  await Promise.all(procs.map((p) => p.stop()));
  rmSync(dirname(cfgPath), { recursive: true, force: true });
  await server[Symbol.asyncDispose](); // process.exit below skips the `await using` disposal: it left nats-server running
}
process.exit(0);
