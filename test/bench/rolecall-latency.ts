/**
 * Latency probe (not a test): what the role-call protocol costs over a bare NATS round trip.
 * Starts a nats-server, a responder with an instant handler, then times N sequential role calls
 * and N raw `nc.request` round trips (to a plain echo subscriber) on the same server.
 * Usage: node test/bench/rolecall-latency.ts [N=2000]
 */
import { performance } from "node:perf_hooks";
import { connectMesh } from "../../mesh/connect.ts";
import { createRoleClient, serveRole } from "../../mesh/rolecall/index.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { finalInfo } from "../fixtures/scripted.ts";

const N = Number(process.argv[2] ?? 2000);
const WARMUP = 200;

await using server = await startNatsServer({ jetstream: false });
await using agent = await connectMesh({ servers: server.url, name: "bench-agent" });
await using caller = await connectMesh({ servers: server.url, name: "bench-caller" });
const info = finalInfo("bench", "echo");
await using _responder = await serveRole(agent, {
  role: "echo",
  host: "bench",
  heartbeatIntervalS: 0,
  async *handler() {
    yield { type: "response", data: "pong" };
    yield { type: "final", data: info };
  },
});
agent.nc.subscribe("bench.raw", { callback: (_e, m) => void m.respond("pong") });
await agent.nc.flush();
const client = createRoleClient(caller);

async function time(what: string, fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(3);
  console.log(`${what.padEnd(36)} n=${N}  p50=${q(0.5)} ms  p99=${q(0.99)} ms  max=${q(1)} ms`);
}

console.log(`node ${process.version}, nats-server ${server.url}, encoding ${caller.encoding}`);
await time("raw nc.request", () => caller.nc.request("bench.raw", "ping", { timeout: 5000 }));
await time("role call (client.call, streaming)", () => client.call("echo", "ping"));
// The responder alone: a plain-text request to the role gets one response chunk (what `nats req` does).
await time("nc.request to lyra.echo (no stream)", () => caller.nc.request("lyra.echo", "ping", { timeout: 5000 }));
await time("raw nc.request (again)", () => caller.nc.request("bench.raw", "ping", { timeout: 5000 }));
