/** Roles are found the NATS micro way ($SRV.INFO / $SRV.STATS) and announce themselves with heartbeats. */
import { headers } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { discoverRoles } from "../../../mesh/discovery.ts";
import { startHeartbeat, type HeartbeatBody } from "../../../mesh/heartbeat.ts";
import { createRoleClient, serveRole, type RoleResponder } from "../../../mesh/rolecall/index.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { wordsHandler } from "../../fixtures/scripted.ts";
import { eventually } from "../../harness/eventually.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";

let fx: MeshFixture;
let agent: Mesh;
let caller: Mesh;
let responder: RoleResponder;
const beats: HeartbeatBody[] = [];

interface InfoReply {
  id: string;
  name: string;
  metadata: Record<string, string>;
  endpoints: { name: string; subject: string; queue_group?: string; metadata?: Record<string, string> }[];
}
interface StatsReply {
  id: string;
  endpoints: { name: string; num_requests: number; num_errors: number; data: Record<string, unknown> }[];
}

beforeAll(async () => {
  fx = await startMeshFixture();
  ({ agent, caller } = fx);
  caller.nc.subscribe("agents.hb.lyra.lyra.voice", { callback: (_e, m) => void beats.push(m.json<HeartbeatBody>()) });
  await caller.nc.flush();
  responder = fx.own(
    await serveRole(agent, {
      role: "voice",
      host: "gpu-1",
      handler: wordsHandler("gpu-1"),
      heartbeatIntervalS: 1,
      metadata: { model: "qwen3:8b" },
      stats: () => ({ model_loaded: true }),
    }),
  );
  await agent.nc.flush();
});
afterAll(() => fx?.[Symbol.asyncDispose]());

describe("discovery", () => {
  it("$SRV.INFO.agents lists the role with its prompt, status and lyra endpoints and Agent Protocol 0.3 metadata", async () => {
    const info = (await caller.nc.request("$SRV.INFO.agents", "", { timeout: 2000 })).json<InfoReply>();
    expect(info.name).toBe("agents");
    expect(info.id).toBe(responder.id);
    expect(info.metadata).toMatchObject({
      agent: "lyra",
      owner: "lyra",
      session: "voice",
      protocol_version: "0.3",
      role: "voice",
      host: "gpu-1",
      model: "qwen3:8b",
    });
    expect(info.endpoints.map((e) => e.name)).toEqual(["prompt", "status", "lyra"]);
    expect(info.endpoints[0]).toMatchObject({ name: "prompt", subject: "agents.prompt.lyra.lyra.voice", queue_group: "agents" });
    expect(info.endpoints[0]!.metadata).toEqual({ max_payload: "1MB", attachments_ok: "false" });
    expect(info.endpoints[1]).toMatchObject({ name: "status", subject: "agents.status.lyra.lyra.voice", queue_group: "agents" });
    expect(info.endpoints[2]).toMatchObject({
      name: "lyra",
      subject: "lyra.voice",
      queue_group: "agents",
      metadata: info.endpoints[0]!.metadata,
    });
  });

  it("$SRV.STATS.agents counts the role's requests", async () => {
    const client = createRoleClient(caller, { dispatch: false }); // counted on the queue-group endpoints
    for (let i = 0; i < 3; i++) await client.call("voice", `q${i}`);
    const stats = (await caller.nc.request(`$SRV.STATS.agents.${responder.id}`, "", { timeout: 2000 })).json<StatsReply>();
    const lyra = stats.endpoints.find((e) => e.name === "lyra")!;
    expect(lyra.num_requests).toBeGreaterThanOrEqual(3);
    expect(lyra.data).toMatchObject({ in_flight: 0, queue_depth: 0, role: "voice", host: "gpu-1", model_loaded: true });
  });

  it("discoverRoles returns the role with its stats (both request endpoints counted)", async () => {
    await caller.nc.request("agents.prompt.lyra.lyra.voice", "spec client", { timeout: 2000 });
    const roles = await discoverRoles(caller, { timeoutMs: 1000 });
    expect(roles).toHaveLength(1);
    expect(roles[0]).toMatchObject({ instanceId: responder.id, role: "voice", host: "gpu-1", subject: "agents.prompt.lyra.lyra.voice" });
    expect(roles[0]!.stats.num_requests).toBeGreaterThanOrEqual(4);
  });

  it("discoverRoles counts the calls that dispatch sends to the replica's own subject, and the errors answered", async () => {
    const before = (await discoverRoles(caller, { timeoutMs: 1000 }))[0]!.stats;
    let direct = 0;
    const tap = caller.nc.subscribe(subjects.roleInstance("voice", responder.id), { callback: () => void direct++ });
    await caller.nc.flush();
    const client = createRoleClient(caller, { dispatch: true });
    let calls = 0;
    try {
      // Dispatch picks the replica once its capacity state has arrived: from then on calls go direct.
      await eventually("three calls sent to the replica's own subject", async () => {
        await client.call("voice", `d${calls++}`);
        return direct >= 3;
      });
      const bad = headers();
      bad.set("Content-Type", "application/json");
      const reply = await caller.nc.request(subjects.roleInstance("voice", responder.id), '{"text": 5}', { timeout: 2000, headers: bad });
      expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("400");
    } finally {
      tap.unsubscribe();
      await client.close();
    }
    const after = (await discoverRoles(caller, { timeoutMs: 1000 }))[0]!.stats;
    expect(after.num_requests - before.num_requests).toBe(calls + 1);
    expect(after.num_errors - before.num_errors).toBe(1);
  });

  it("discoverRoles ignores other agents that share the Agent Protocol service name", async () => {
    const other = await new Svcm(agent.nc as unknown as Svcm["nc"]).add({ name: "agents", version: "1.0.0", metadata: { agent: "other" } });
    try {
      expect((await discoverRoles(caller, { timeoutMs: 500 })).map((r) => r.role)).toEqual(["voice"]);
    } finally {
      await other.stop();
    }
  });
});

describe("heartbeat", () => {
  it("arrives on agents.hb.lyra.<owner>.<role> with the Agent Protocol fields", async () => {
    await eventually("two heartbeats", () => beats.length >= 2, { timeoutMs: 5000 });
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats[0]).toMatchObject({
      agent: "lyra",
      owner: "lyra",
      session: "voice",
      instance_id: responder.id,
      interval_s: 1,
      host: "gpu-1",
    });
    expect(new Date(beats[0]!.ts).toISOString()).toBe(beats[0]!.ts);
  });

  it("startHeartbeat publishes at once and stops when told (twice is safe)", async () => {
    const got: HeartbeatBody[] = [];
    const sub = caller.nc.subscribe("agents.hb.lyra.team.critic", { callback: (_e, m) => void got.push(m.json<HeartbeatBody>()) });
    await caller.nc.flush();
    const hb = startHeartbeat(agent, { owner: "team", role: "critic", instanceId: "abc", intervalS: 60, extra: () => ({ load: 0.5 }) });
    await agent.nc.flush();
    await caller.nc.flush();
    await hb.close();
    await hb.close();
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ agent: "lyra", owner: "team", session: "critic", instance_id: "abc", interval_s: 60, load: 0.5 });
    sub.unsubscribe();
  });
});

describe("after close", () => {
  it("the role is gone from discovery and heartbeats stop", async () => {
    await responder.close();
    await responder.closed();
    const count = beats.length;
    expect(await discoverRoles(caller, { timeoutMs: 300 })).toEqual([]);
    // A sentinel with the same 1 s interval, started after the close: its second beat means a whole
    // interval has passed, so the closed responder would have beaten by then.
    const sentinel: unknown[] = [];
    const sub = caller.nc.subscribe("agents.hb.lyra.lyra.sentinel", { callback: (_e, m) => void sentinel.push(m.data) });
    await caller.nc.flush();
    const hb = startHeartbeat(agent, { owner: "lyra", role: "sentinel", instanceId: "s", intervalS: 1 });
    try {
      await eventually("two sentinel heartbeats", () => sentinel.length >= 2, { timeoutMs: 5000 });
    } finally {
      await hb.close();
      sub.unsubscribe();
    }
    expect(beats.length).toBe(count);
  });
});
