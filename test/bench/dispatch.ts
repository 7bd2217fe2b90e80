/**
 * The skewed-replica scenario: three replicas of one role, as a GPU mesh often has them. gpu-1 is
 * warm with its two slots free; gpu-2 has both slots taken by long calls (another caller keeps
 * them busy); gpu-3 starts with its model unloaded (its first call pays LOAD_MS) and is busy too. The
 * same 200 calls, two at a time, go once through the plain queue group (dispatch off) and once
 * with capacity-aware dispatch, each on fresh replicas, in one run.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createInbox } from "@nats-io/nats-core";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { createRoleClient, serveRole } from "../../mesh/rolecall/index.ts";
import type { RoleHandler, RoleResponder } from "../../mesh/rolecall/types.ts";
import { subjects } from "../../mesh/subjects.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, rounded, summarize, type Summary } from "./stats.ts";

const ROLE = "skewed";
const CALLS = 200;
const PARALLEL = 2;
const ANSWER_MS = 5;
const HOG_MS = 150;
const LOAD_MS = 1000;
const TARGET_RATIO = 3;

interface Replica {
  host: string;
  responder: RoleResponder;
  state: { loaded: boolean; degraded: boolean };
}

async function replicas(mesh: Mesh): Promise<Replica[]> {
  const out: Replica[] = [];
  for (const host of ["gpu-1", "gpu-2", "gpu-3"]) {
    const state = { loaded: host !== "gpu-3", degraded: false };
    const handler: RoleHandler = async function* (req, ctx) {
      if (!state.loaded) {
        await sleep(LOAD_MS, undefined, { signal: ctx.signal });
        state.loaded = true;
      }
      await sleep(req.prompt === "hog" ? HOG_MS : ANSWER_MS, undefined, { signal: ctx.signal });
      yield { type: "response", data: `from ${host}` };
    };
    const responder = await serveRole(mesh, {
      role: ROLE,
      host,
      handler,
      concurrency: 2,
      queueSize: 16,
      heartbeatIntervalS: 0,
      capacity: () => state,
    });
    out.push({ host, responder, state });
  }
  return out;
}

async function scenario(ctx: BenchContext, url: string, dispatch: boolean): Promise<{ latency: Summary; byHost: Record<string, number> }> {
  await using agentMesh = await connectMesh({ servers: url, name: "bench-skew-agents" });
  await using hogMesh = await connectMesh({ servers: url, name: "bench-skew-hog" });
  await using callerMesh = await connectMesh({ servers: url, name: "bench-skew-caller" });
  const reps = await replicas(agentMesh);
  // The other caller: keeps gpu-2's and gpu-3's slots busy, addressing them directly.
  let hogging = true;
  const hog = async (r: Replica) => {
    while (hogging) {
      // One whole answer: the ack, the chunks, then the empty terminator. A replica that has just
      // closed may answer with no-responders (a 503 status) or not at all: that ends it too.
      await new Promise<void>((resolve) => {
        const inbox = createInbox();
        const done = () => {
          clearTimeout(timer);
          sub.unsubscribe();
          resolve();
        };
        const timer = setTimeout(done, 5000);
        const sub = hogMesh.nc.subscribe(inbox, {
          callback: (_err, m) => {
            if (m.data.length === 0 && (!m.headers || m.headers.status === "503")) done();
          },
        });
        hogMesh.nc.publish(subjects.roleInstance(ROLE, r.responder.id), JSON.stringify({ prompt: "hog" }), { reply: inbox });
      });
    }
  };
  const hogs = reps.slice(1).flatMap((r) => [hog(r), hog(r)]);
  const client = createRoleClient(callerMesh, { dispatch, ackWindowMs: 5000, timeoutMs: 30_000 });
  await sleep(700); // a state period: the dispatching client has heard every replica
  const latencies: number[] = [];
  const byHost: Record<string, number> = {};
  let next = 0;
  await ctx.measure(`dispatch-${dispatch ? "on" : "off"}`, () =>
    Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < CALLS) {
          next++;
          const t0 = performance.now();
          const r = await client.call(ROLE, "a question");
          latencies.push(performance.now() - t0);
          byHost[r.host] = (byHost[r.host] ?? 0) + 1;
        }
      }),
    ),
  );
  hogging = false;
  await client.close();
  await Promise.all(reps.map((r) => r.responder.close()));
  await Promise.allSettled(hogs);
  ctx.progress(`dispatch ${dispatch ? "on" : "off"}: ${JSON.stringify(byHost)}`);
  return { latency: summarize(latencies), byHost };
}

export async function dispatch(ctx: BenchContext): Promise<SectionResult> {
  await using server = await startNatsServer({ jetstream: false });
  ctx.progress("dispatch: skewed replicas, plain queue group");
  const plain = await scenario(ctx, server.url, false);
  ctx.progress("dispatch: skewed replicas, capacity-aware dispatch");
  const aware = await scenario(ctx, server.url, true);
  const ratio = plain.latency.p50 / aware.latency.p50;
  const row = (name: string, r: typeof plain) => [
    name,
    fmt(r.latency.p50),
    fmt(r.latency.p95),
    fmt(r.latency.p99),
    ["gpu-1", "gpu-2", "gpu-3"].map((h) => r.byHost[h] ?? 0).join(" / "),
  ];
  return {
    name: "dispatch",
    title: "10. Capacity-aware dispatch: skewed replicas (one warm and free, one busy, one cold and busy)",
    table: [
      ["routing", "p50 ms", "p95 ms", "p99 ms", "calls gpu-1 / gpu-2 / gpu-3"],
      row("plain queue group", plain),
      row("capacity-aware dispatch", aware),
    ],
    notes: [
      `${CALLS} calls, ${PARALLEL} at a time; answers take ${ANSWER_MS} ms; ` +
        `gpu-2 and gpu-3 each have both slots kept busy by another caller's ${HOG_MS} ms calls; gpu-3 starts with its model ` +
        `unloaded (its first call, usually the other caller's, loads it: ${LOAD_MS} ms); fresh replicas for each routing`,
      `p50 ratio (queue group / dispatch): ${ratio.toFixed(1)}×`,
    ],
    json: {
      calls: CALLS,
      parallel: PARALLEL,
      queue_group: { latency_ms: rounded(plain.latency), by_host: plain.byHost },
      dispatch: { latency_ms: rounded(aware.latency), by_host: aware.byHost },
      p50_ratio: Math.round(ratio * 10) / 10,
    },
    targets: [
      {
        name: "Skewed replicas: dispatch p50 vs queue group",
        goal: `≥ ${TARGET_RATIO}× lower`,
        figure: `${fmt(aware.latency.p50)} vs ${fmt(plain.latency.p50)} ms (${ratio.toFixed(1)}×)`,
        met: ratio >= TARGET_RATIO,
      },
    ],
  };
}
