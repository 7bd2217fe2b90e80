/**
 * Summarises a V8 .cpuprofile (`node --cpu-prof`, or `npm run bench -- --profile DIR`): the
 * functions and the packages / project files with the most self time. Given a .heapprofile (a
 * sampled allocation profile, also written by --profile), the same for bytes allocated.
 * Usage: node test/bench/cpuprofile-top.ts <file.cpuprofile|file.heapprofile> [top=25]
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

const [file, topArg = "25"] = process.argv.slice(2);
if (!file) {
  console.error("usage: node test/bench/cpuprofile-top.ts <file.cpuprofile|file.heapprofile> [top=25]");
  process.exit(2);
}
const top = Number(topArg);
const raw = JSON.parse(readFileSync(file, "utf8")) as Profile | { head: HeapNode };

/** "mesh/conductor/turn.ts", "@nats-io/nats-core", "node:internal/…", or "(native)". */
function origin(url: string): string {
  if (!url) return "(native / V8)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const own = /\/((?:mesh|agents|schemas|test)\/.+)$/.exec(url);
  if (own) return own[1]!;
  return url.startsWith("node:") ? url.split("/").slice(0, 2).join("/") : url;
}

/** Adds `amount` to the function's and the origin's totals. */
const fns = new Map<string, number>();
const origins = new Map<string, number>();
function add(f: CallFrame, amount: number) {
  const o = origin(f.url);
  const key = `${f.functionName || "(anonymous)"}  ${o}${f.url ? `:${f.lineNumber + 1}` : ""}`;
  fns.set(key, (fns.get(key) ?? 0) + amount);
  const special = ["(idle)", "(garbage collector)", "(program)"].includes(f.functionName) ? f.functionName : o;
  origins.set(special, (origins.get(special) ?? 0) + amount);
}

let total: number;
let unit: (v: number) => string;
if ("head" in raw) {
  let bytes = 0;
  const walk = (n: HeapNode) => {
    add(n.callFrame, n.selfSize);
    bytes += n.selfSize;
    n.children.forEach(walk);
  };
  walk(raw.head);
  total = bytes;
  unit = (b) => `${(b / 1e6).toFixed(1).padStart(8)} MB`;
  console.log(`${file}: ${(bytes / 1e6).toFixed(1)} MB allocated (sampled)\n`);
} else {
  const byId = new Map(raw.nodes.map((n) => [n.id, n]));
  raw.samples.forEach((id, i) => add(byId.get(id)!.callFrame, raw.timeDeltas[i] ?? 0));
  total = raw.endTime - raw.startTime;
  unit = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s profiled, ${raw.samples.length} samples\n`);
}
const pct = (v: number) => `${((v / total) * 100).toFixed(1).padStart(5)} %`;
console.log("self by origin");
for (const [k, v] of [...origins].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)} ${unit(v)}  ${k}`);
console.log("\nself by function");
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)} ${unit(v)}  ${k}`);
