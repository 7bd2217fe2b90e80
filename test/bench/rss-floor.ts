/**
 * Where an agent process's resident memory goes before it does anything: run as a child process
 * by memory.ts, it loads what `lyra agent` loads, step by step, and prints its RSS (MB) after
 * each step as one JSON line. The first figure already includes Node's TypeScript stripping,
 * which loaded this very file.
 * Usage: node test/bench/rss-floor.ts
 */
import { setTimeout as sleep } from "node:timers/promises";
import { statusMB } from "./procfs.ts";

const steps: [string, () => Promise<unknown>][] = [
  ["zod", () => import("zod")],
  ["Lyra schemas (zod schemas built)", () => import("../../schemas/index.ts").then(() => import("../../schemas/config.ts"))],
  [
    "NATS clients (core, JetStream, services)",
    () => Promise.all([import("@nats-io/transport-node"), import("@nats-io/jetstream"), import("@nats-io/services")]),
  ],
  ["pino, prom-client", () => Promise.all([import("pino"), import("prom-client")])],
  ["mesh/ (mesh/index.ts: all of it, the conductor and role calls included)", () => import("../../mesh/index.ts")],
  ["model clients (openai, ollama)", () => Promise.all([import("openai"), import("ollama")])],
  [
    "agent host and `lyra agent` command",
    () => Promise.all([import("../../agents/host/host.ts"), import("../../agents/cli/commands/agent.ts")]),
  ],
];

const out: { step: string; rss_mb: number }[] = [];
const sample = async (step: string) => {
  await sleep(100);
  out.push({ step, rss_mb: Math.round((statusMB(process.pid, "VmRSS") ?? Number.NaN) * 10) / 10 });
};
await sample("Node + TypeScript stripping, nothing imported");
for (const [step, load] of steps) {
  await load();
  await sample(`+ ${step}`);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
