/**
 * Regions: two regions joined by a gateway and a GPU box on a leaf node of region B, on the
 * committed infra/nats configs (test/harness/regions.ts: TLS, JetStream, the users `lyra auth`
 * derives). One role call at a time from a caller in region A, interleaved in rounds:
 *   in-region     — `echo`, served in both regions: region A's replica answers (the baseline);
 *   gateway       — `far`, served only in region B: over the gateway;
 *   gateway+leaf  — `boxed`, served only on the box: over the gateway and the leaf connection.
 * Then where both regions serve `echo`, the share of calls that stayed in their region, from A and
 * from B, with the caller's region (mesh.region) and, as the baseline, without one.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/nats-core";
import { meshUsers, renderAuthConf } from "../../mesh/auth/index.ts";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { createRoleClient, serveRole, type RoleClient } from "../../mesh/rolecall/index.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import { finalInfo } from "../fixtures/scripted.ts";
import { eventually } from "../harness/eventually.ts";
import { startRegions, type Regions } from "../harness/regions.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, rounded, summarize, timeConcurrent } from "./stats.ts";

const ROUNDS = 5;
const YAML = `
mesh: { name: bench, owner: bench }
roles:
  echo: { model: m, backend: scripted, script: [{ reply: ok }] }
  far: { model: m, backend: scripted, script: [{ reply: ok }] }
  boxed: { model: m, backend: scripted, script: [{ reply: ok }] }
hosts:
  a1: { roles: [echo], region: a }
  b1: { roles: [echo, far], region: b }
  box: { roles: [boxed], region: b, leaf: true }
`;

type Way = "in-region" | "gateway" | "gateway+leaf";
const ROLE_OF: Record<Way, string> = { "in-region": "echo", gateway: "far", "gateway+leaf": "boxed" };

/** `lyra auth`'s users for YAML, their seeds in a temp dir (as the command writes them). */
function authFor(dir: string) {
  const cfg = parseMeshConfig(YAML, { source: "bench regions", env: {} });
  const seeds = new Map<string, string>();
  const users = meshUsers(cfg).map((u) => {
    const pair = nkeys.createUser();
    const file = join(dir, `${u.name}.nk`);
    writeFileSync(file, new TextDecoder().decode(pair.getSeed()), { mode: 0o600 });
    seeds.set(u.name, file);
    return { ...u, nkey: pair.getPublicKey() };
  });
  const seedOf = (name: string) => seeds.get(name)!;
  const inboxOf = (name: string) => users.find((u) => u.name === name)!.inboxPrefix;
  return { conf: renderAuthConf(users, "the bench"), seedOf, inboxOf };
}

export async function regions(ctx: BenchContext): Promise<SectionResult> {
  const calls = ctx.quick ? 200 : 1000;
  const shareCalls = ctx.quick ? 100 : 400;
  const dir = mkdtempSync(join(tmpdir(), "lyra-bench-regions-"));
  const auth = authFor(dir);
  const r: Regions = await startRegions({ authConf: auth.conf, leafSeed: readFileSync(auth.seedOf("leaf-box"), "utf8") });
  const meshes: Mesh[] = [];
  const clients: RoleClient[] = [];
  const connect = async (user: string, url: string, region?: string, tls = true) => {
    const m = await connectMesh({
      servers: url,
      name: `bench-${user}`,
      nkeyFile: auth.seedOf(user),
      inboxPrefix: auth.inboxOf(user),
      tls: tls ? { caFile: r.caFile } : undefined,
      region,
    });
    meshes.push(m);
    return m;
  };
  try {
    const serve = async (host: string, role: string, mesh: Mesh, region: string) =>
      serveRole(mesh, {
        role,
        host,
        region,
        concurrency: 8,
        heartbeatIntervalS: 0,
        stateIntervalMs: 100,
        async *handler() {
          yield { type: "response", data: "ok" };
          yield { type: "final", data: finalInfo(host, role) };
        },
      });
    const a1 = await connect("agent-a1", r.a, "a");
    const b1 = await connect("agent-b1", r.b, "b");
    const box = await connect("agent-box", r.leaf, "b", false); // on loopback, carried by the leaf
    const responders = [
      await serve("a1", "echo", a1, "a"),
      await serve("b1", "echo", b1, "b"),
      await serve("b1", "far", b1, "b"),
      await serve("box", "boxed", box, "b"),
    ];
    const client = async (url: string, region?: string) => {
      const c = createRoleClient(await connect("serve", url, region));
      clients.push(c);
      // Until it has every replica's state: a call before that would take the queue group.
      await eventually("the callers to see every replica", async () => {
        const routes = await Promise.all(Object.values(ROLE_OF).map((role) => c.call(role, { prompt: "warm-up" })));
        return routes.every((x) => x.route && !x.route.startsWith("queue group")) ? true : undefined;
      });
      return c;
    };
    const fromA = await client(r.a, "a");
    const fromB = await client(r.b, "b");

    ctx.progress(`regions: ${calls} calls each way, 1 in flight`);
    const samples: Record<Way, number[]> = { "in-region": [], gateway: [], "gateway+leaf": [] };
    const ways = Object.keys(ROLE_OF) as Way[];
    for (const w of ways) await timeConcurrent(50, 1, () => fromA.call(ROLE_OF[w], { prompt: "hi" }));
    await ctx.measure("regions-latency", async () => {
      for (let round = 0; round < ROUNDS; round++) {
        for (const w of ways) samples[w].push(...(await timeConcurrent(calls / ROUNDS, 1, () => fromA.call(ROLE_OF[w], { prompt: "hi" }))));
      }
    });
    const lat = Object.fromEntries(ways.map((w) => [w, summarize(samples[w])])) as Record<Way, ReturnType<typeof summarize>>;

    ctx.progress(`regions: ${shareCalls} calls of a role both regions serve, from each region`);
    const share = async (c: RoleClient, home: string) => {
      let stayed = 0;
      for (let i = 0; i < shareCalls; i++) if ((await c.call("echo", { prompt: "hi", conversation: `s${i}` })).host === home) stayed++;
      return stayed / shareCalls;
    };
    const withRegion = { a: await share(fromA, "a1"), b: await share(fromB, "b1") };
    const blindA = await client(r.a);
    const blindB = await client(r.b);
    const blind = { a: await share(blindA, "a1"), b: await share(blindB, "b1") };
    await Promise.all(responders.map((x) => x.close()));
    return report(calls, shareCalls, lat, withRegion, blind);
  } finally {
    for (const c of clients) await c.close();
    for (const m of meshes) await m.close();
    await r[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(
  calls: number,
  shareCalls: number,
  lat: Record<Way, ReturnType<typeof summarize>>,
  withRegion: { a: number; b: number },
  blind: { a: number; b: number },
): SectionResult {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const base = lat["in-region"].p50;
  const row = (w: Way) => [
    w,
    fmt(lat[w].p50),
    fmt(lat[w].p95),
    fmt(lat[w].p99),
    w === "in-region" ? "(baseline)" : `+${fmt(lat[w].p50 - base)}`,
  ];
  const all = Math.min(withRegion.a, withRegion.b);
  return {
    name: "regions",
    title: "11. Regions: a role call in-region vs over the gateway (and a leaf), and calls kept in their region",
    table: [
      ["from region A to", "p50 ms", "p95 ms", "p99 ms", "p50 over in-region ms"],
      row("in-region"),
      row("gateway"),
      row("gateway+leaf"),
      ["stayed in region (A / B)", "", "", "", ""],
      ["  caller's region set", "", "", "", `${pct(withRegion.a)} / ${pct(withRegion.b)}`],
      ["  no region (baseline)", "", "", "", `${pct(blind.a)} / ${pct(blind.b)}`],
    ],
    notes: [
      `${calls} calls each way, 1 in flight, interleaved in ${ROUNDS} rounds; every node on this machine (TLS on every link), ` +
        "so the gateway's cost is its extra hops, not distance",
      `${shareCalls} calls of a role both regions serve from each region, each in its own conversation (no affinity)`,
    ],
    json: {
      calls,
      latency_ms: Object.fromEntries(Object.entries(lat).map(([w, s]) => [w, rounded(s)])),
      stayed_in_region: { with_region: withRegion, without_region: blind },
    },
    targets: [
      {
        name: "Calls that stayed in their region (local replica healthy)",
        goal: "100 %",
        figure: `${pct(withRegion.a)} from A, ${pct(withRegion.b)} from B`,
        met: all === 1,
      },
    ],
  };
}
