/**
 * Two regions joined by a gateway, and a GPU box behind NAT on a leaf node of region B, on the
 * committed infra/nats configs (TLS, JetStream, `lyra auth`'s users): a role served only on the
 * box answers callers in region A, streamed; where both regions serve a role, each region's calls
 * stay in it (direct calls by the dispatcher's region, queue-group calls by NATS itself), and go
 * to the other region only when their own has no healthy replica; a committee turn entered in
 * region A reaches the box and is logged once in the one JetStream domain, readable from region B.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor, type Conductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient, type RoleClient } from "../../../mesh/rolecall/index.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { LogEvent, ReplicaState, type OutboxMessage } from "../../../schemas/index.ts";
import { parseMeshConfig, type MeshConfig } from "../../../schemas/config.ts";
import { conductorOptions } from "../../../agents/host/conductor-options.ts";
import { startAgentHost, type AgentHost } from "../../../agents/host/host.ts";
import { startRegions, type Regions } from "../../harness/regions.ts";
import { eventually } from "../../harness/eventually.ts";
import { newId, readStream } from "../conductor/helpers.ts";
import { generateAuth, type GeneratedAuth } from "../auth/helpers.ts";

/** The mesh of the regions tests (and the bench's `regions` section): pragmatist in both regions, philosopher on the box only. */
export const REGIONS_YAML = `
mesh: { name: test, owner: tester }
roles:
  router:
    kind: router
    model: m
    backend: scripted
    slots: 8
    script:
      - { match: "\\\\bwhy\\\\b", json: { specialist: philosopher, confidence: 0.9, reason: "a why-question" } }
      - { json: { specialist: pragmatist, confidence: 0.8, reason: "a practical question" } }
  pragmatist:
    model: m
    backend: scripted
    description: practical answers
    slots: 8
    script:
      - { reply: "Pragmatist answer to: {input}" }
  philosopher:
    model: m
    backend: scripted
    description: why and meaning
    slots: 8
    script:
      - { reply: "Philosopher musing on: {input}", delay_ms: 5 }
  voice:
    kind: voice
    model: m
    backend: scripted
    slots: 8
    script:
      - { reply: "Lyra says: {input}" }
router: { default_specialist: pragmatist }
hosts:
  a1: { roles: [router, pragmatist, voice], region: a }
  b1: { roles: [pragmatist], region: b }
  gpu-b: { roles: [philosopher], region: b, leaf: true }
conductor: { ack_wait_ms: 5000, max_deliver: 5 }
`;

let auth: GeneratedAuth;
let regions: Regions;
let config: MeshConfig;
const meshes: Mesh[] = [];
const hosts: Record<string, AgentHost> = {};
let callerA: RoleClient;
let callerB: RoleClient;
let core: Conductor;

/** Connects as a generated user to a region's node, over TLS, in that region. */
async function connectAs(user: string, url: string, region: string): Promise<Mesh> {
  const env = auth.env(user);
  const mesh = await connectMesh({
    servers: url,
    name: `${user}@${region}`,
    nkeyFile: env.NATS_NKEY_FILE,
    inboxPrefix: env.NATS_INBOX_PREFIX,
    tls: { caFile: regions.caFile },
    region,
    timeoutMs: 10_000,
  });
  meshes.push(mesh);
  return mesh;
}

async function agent(host: string, mesh: Mesh): Promise<void> {
  hosts[host] = await startAgentHost({
    config,
    host,
    mesh,
    log: silentLogger,
    metricsPort: null,
    heartbeatIntervalS: 0,
    stateIntervalMs: 100,
  });
}

/** Until `client`'s connection has seen capacity state from every named host of `role`. */
async function seesState(mesh: Mesh, role: string, want: string[]): Promise<void> {
  const seen = new Set<string>();
  const sub = mesh.nc.subscribe(subjects.roleStateAll, {
    callback: (_e, m) => {
      const st = ReplicaState.parse(m.json());
      if (st.role === role) seen.add(st.host);
    },
  });
  await eventually(`state of ${want.join(", ")} for ${role}`, () => want.every((h) => seen.has(h)), { timeoutMs: 15_000 });
  sub.unsubscribe();
}

beforeAll(async () => {
  config = parseMeshConfig(REGIONS_YAML, { source: "regions test", env: {} });
  auth = await generateAuth(REGIONS_YAML);
  const leafSeed = readFileSync(auth.env("leaf-gpu-b").NATS_NKEY_FILE, "utf8").trim();
  regions = await startRegions({ authConf: auth.conf, leafSeed });
  await agent("a1", await connectAs("agent-a1", regions.a, "a"));
  await agent("b1", await connectAs("agent-b1", regions.b, "b"));
  // The box's agent reaches only its own node, on loopback (its settings as lyra auth wrote them; the
  // node asks for no credentials): the leaf connection carries its traffic as user leaf-gpu-b.
  const env = auth.env("agent-gpu-b");
  const box = await connectMesh({
    servers: regions.leaf,
    name: "agent-gpu-b",
    nkeyFile: env.NATS_NKEY_FILE,
    inboxPrefix: env.NATS_INBOX_PREFIX,
  });
  meshes.push(box);
  await agent("gpu-b", box);
  const a = await connectAs("serve", regions.a, "a");
  const b = await connectAs("serve", regions.b, "b");
  callerA = createRoleClient(a);
  callerB = createRoleClient(b);
  await seesState(a, "pragmatist", ["a1", "b1"]);
  await seesState(a, "philosopher", ["gpu-b"]);
  await seesState(b, "pragmatist", ["a1", "b1"]);
  const coreMesh = await connectAs("core", regions.a, "a");
  // JetStream's meta group spans both regions: the streams can be created once it has a leader.
  core = await eventually(
    "the conductor to create its streams",
    async () => startConductor(coreMesh, conductorOptions(config, coreMesh, silentLogger)).catch(() => undefined),
    { timeoutMs: 30_000 },
  );
}, 90_000);

afterAll(async () => {
  await core?.close();
  await callerA?.close();
  await callerB?.close();
  for (const h of Object.values(hosts)) await h.close();
  for (const m of meshes) await m.close();
  await regions?.[Symbol.asyncDispose]();
});

describe("two regions joined by a gateway, a GPU box on a leaf node", () => {
  it("answers a call from region A by a role served only on the box in region B, streamed", async () => {
    const s = callerA.stream("philosopher", { prompt: "why is the sky blue?", conversation: "r1" });
    const kinds: string[] = [];
    for await (const c of s) kinds.push(c.type);
    const r = await s.result;
    expect(r.host).toBe("gpu-b");
    expect(r.text).toBe("Philosopher musing on: why is the sky blue?");
    // Streamed: the answer's pieces came before the final chunk, through gateway and leaf.
    expect(kinds.filter((k) => k === "response").length).toBeGreaterThan(1);
    expect(kinds.indexOf("response")).toBeLessThan(kinds.indexOf("final"));
    expect(r.route).toMatch(/^gpu-b \(region b\): model warm, .*none healthy in region a\)$/);
  });

  it("keeps each region's calls in it where both regions serve the role, direct and by queue group", async () => {
    const served = async (client: RoleClient, dispatch: boolean) => {
      const rs = await Promise.all(
        Array.from({ length: 12 }, (_, i) => client.call("pragmatist", { prompt: `q${i}`, conversation: newId("c") }, { dispatch })),
      );
      return rs.map((r) => ({ host: r.host, route: r.route ?? "" }));
    };
    for (const r of await served(callerA, true)) {
      expect(r.host).toBe("a1");
      expect(r.route).toMatch(/^a1 \(region a\): .*in region a\)$/);
    }
    for (const r of await served(callerB, true)) {
      expect(r.host).toBe("b1");
      expect(r.route).toMatch(/^b1 \(region b\): .*in region b\)$/);
    }
    // The shared queue group: NATS prefers the sender's cluster across a gateway by itself.
    expect(new Set((await served(callerA, false)).map((r) => r.host))).toEqual(new Set(["a1"]));
    expect(new Set((await served(callerB, false)).map((r) => r.host))).toEqual(new Set(["b1"]));
  });

  it("logs a committee turn entered in region A, answered on the box, once in the one JetStream domain", async () => {
    const door = await connectAs("discord", regions.a, "a");
    const id = newId();
    const watch = watchReplies(door, "discord", "r2", id);
    await door.nc.flush();
    await publishInbox(door, { id, channel: "discord", conversation: "r2", user: { id: "u1" }, text: "why do we dream?" });
    let final: OutboxMessage | undefined;
    for await (const o of watch) if (o.final) final = o;
    expect(final?.text).toBe("Lyra says: Philosopher musing on: why do we dream?");
    // Read from region B, as the operator: the log lives in region A's cluster, one domain for both.
    const cli = await connectAs("cli", regions.b, "b");
    const log = await eventually("the turn's log", async () => {
      const events = await readStream(cli, StreamName.Log, subjects.log("r2"), LogEvent);
      return events.some((e) => e.type === "voice_reply") ? events : undefined;
    });
    const specialist = log.find((e) => e.type === "specialist_finished");
    expect(specialist).toMatchObject({ specialist: "philosopher", host: "gpu-b" });
    expect(specialist?.route).toMatch(/^gpu-b \(region b\): /);
    expect(log.filter((e) => e.type === "user_message")).toHaveLength(1);
  });

  it("sends region B's calls to region A when B has no healthy replica of the role", async () => {
    await hosts.b1!.close();
    const r = await eventually("a call from B answered in A", async () => {
      const res = await callerB.call("pragmatist", { prompt: "still there?", conversation: newId("c") });
      return res.host === "a1" ? res : undefined;
    });
    expect(r.route).toMatch(/^a1 \(region a\): .*none healthy in region b\)$/);
  });
});
