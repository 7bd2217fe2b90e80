/**
 * `npm run bench`: what the mesh itself costs, with instant models, against real nats-servers it
 * starts. Prints a table per section and each target with met / not met (never fails on a miss),
 * and writes the figures to test/bench/results/<date>.json and, for a full run, latest.json.
 *
 *   npm run bench                    full run (about 3 minutes on 2 cores)
 *   npm run bench -- --quick         fewer samples (about 1 minute)
 *   npm run bench -- --only hop,codec   some sections (development; latest.json is left alone)
 *   npm run bench -- --only real-model  the mesh in front of a real model (real Ollama and its small
 *                                        model from `npm run setup`; about a minute)
 *   npm run bench -- --only pipeline    the pipelined voice vs the sequential one on the real model
 *                                        (real Ollama, several-paragraph answers; about 3 minutes)
 *   npm run bench -- --only router       the router's classifier, LLM router and chain on real models over
 *                                        the labelled set (real Ollama; about 2 minutes)
 *   npm run bench -- --only cache        the response cache's hits vs misses on the real model (real Ollama; about a minute)
 *   npm run bench -- --profile .tmp/prof   also profile each measured phase (in-process parts): CPU and
 *                                          sampled allocations (.cpuprofile, .heapprofile; cpuprofile-top.ts reads both)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { NATS_SERVER_BIN, requireNatsServer } from "../harness/nats-server.ts";
import { affinity } from "./affinity.ts";
import { cacheSection } from "./cache.ts";
import { codec } from "./codec.ts";
import { committee } from "./committee-throughput.ts";
import { compute } from "./compute.ts";
import { continueSection } from "./continue.ts";
import { dispatch } from "./dispatch.ts";
import { failover } from "./failover.ts";
import { hop } from "./hop.ts";
import { memory } from "./memory.ts";
import { memorySearch } from "./memory-search.ts";
import { pipeline } from "./pipeline.ts";
import { realModel } from "./real-model.ts";
import { regions } from "./regions.ts";
import { router } from "./router.ts";
import { serve } from "./serve.ts";
import { tools } from "./tools.ts";
import type { BenchContext, Section, SectionResult } from "./report.ts";
import { table } from "./stats.ts";

const SECTIONS: Record<string, Section> = {
  hop,
  committee,
  codec,
  failover,
  memory,
  tools,
  "memory-search": memorySearch,
  serve,
  compute,
  dispatch,
  "real-model": realModel,
  continue: continueSection,
  affinity,
  pipeline,
  router,
  regions,
  cache: cacheSection,
};

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    profile: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(`usage: npm run bench [-- --quick] [-- --only ${Object.keys(SECTIONS).join(",")}] [-- --profile DIR]`);
  process.exit(0);
}
const only = values.only
  ?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of only ?? []) {
  if (!SECTIONS[s]) {
    console.error(`unknown section '${s}': use ${Object.keys(SECTIONS).join(", ")}`);
    process.exit(2);
  }
}
requireNatsServer();

export function machine() {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model ?? "unknown";
  const natsVersion = execFileSync(NATS_SERVER_BIN, ["--version"], { encoding: "utf8" })
    .trim()
    .replace(/^nats-server:\s*/, "");
  return {
    nproc: cpus().length,
    cpu: cpuModel,
    ram_gib: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    nats_server: natsVersion,
    platform: `${process.platform} ${process.arch}`,
  };
}

const profileDir = values.profile;
let session: Session | undefined;
if (profileDir) {
  mkdirSync(profileDir, { recursive: true });
  session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("HeapProfiler.enable");
}
const ctx: BenchContext = {
  quick: values.quick,
  progress: (line) => process.stderr.write(`  … ${line}\n`),
  async measure(label, fn) {
    if (!session || !profileDir) return fn();
    await session.post("Profiler.start");
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    try {
      return await fn();
    } finally {
      const { profile } = await session.post("Profiler.stop");
      const { profile: heap } = await session.post("HeapProfiler.stopSampling");
      const base = join(profileDir, label.replace(/[^A-Za-z0-9_-]+/g, "_"));
      writeFileSync(`${base}.cpuprofile`, JSON.stringify(profile));
      writeFileSync(`${base}.heapprofile`, JSON.stringify(heap));
      process.stderr.write(`  … profiles of '${label}' written to ${base}.cpuprofile and .heapprofile\n`);
    }
  },
};
const started = performance.now();
const m = machine();
console.log(`Lyra mesh benchmark (${values.quick ? "quick" : "full"} run)`);
console.log(`machine: ${m.nproc} × ${m.cpu}, ${m.ram_gib} GiB RAM, Node ${m.node}, nats-server ${m.nats_server}\n`);

const results: SectionResult[] = [];
for (const [name, section] of Object.entries(SECTIONS)) {
  if (only && !only.includes(name)) continue;
  const r = await section(ctx);
  results.push(r);
  console.log(`${r.title}\n${table(r.table)}`);
  for (const n of r.notes) console.log(`  ${n}`);
  console.log("");
}

const targets = results.flatMap((r) => r.targets);
if (targets.length) {
  console.log(
    `Targets\n${table([
      ["target", "goal", "figure", "result"],
      ...targets.map((t) => [t.name, t.goal, t.figure, t.met ? "met" : "NOT MET"]),
    ])}\n`,
  );
}

const seconds = Math.round((performance.now() - started) / 100) / 10;
const date = new Date();
const report = {
  date: date.toISOString(),
  mode: values.quick ? "quick" : "full",
  sections: results.map((r) => r.name),
  duration_s: seconds,
  machine: m,
  ...Object.fromEntries(results.map((r) => [r.name, r.json])),
  targets,
};
const dir = new URL("./results/", import.meta.url);
const file = new URL(`${date.toISOString().replace(/[:.]/g, "-")}.json`, dir);
const text = `${JSON.stringify(report, null, 2)}\n`;
writeFileSync(file, text);
const complete = !values.quick && !only;
if (complete) writeFileSync(new URL("latest.json", dir), text);
console.log(
  `figures written to ${file.pathname}` +
    `${complete ? " and latest.json" : " (latest.json is only replaced by a full run of every section)"}; ` +
    `${seconds} s in all`,
);
// Child processes, timers of closed connections: nothing should hold the process, but make sure.
process.exit(0);
