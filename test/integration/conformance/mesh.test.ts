/**
 * NATS Agent Protocol 0.3 conformance of what the CLI's roles cannot show on demand, with roles
 * served by serveRole(): the 403 and 404 codes, the agent-side max_payload check, shutting down,
 * and load sharing across instances (§3.4). Judged through the spec caller alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { CallCode } from "../../../schemas/index.ts";
import { ForbiddenError, NotFoundError } from "../../../mesh/errors.ts";
import { serveRole, type RoleHandler, type RoleResponder } from "../../../mesh/rolecall/index.ts";
import { addRoleService } from "../../../mesh/rolecall/service.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { wordsHandler } from "../../fixtures/scripted.ts";
import { gate } from "../mesh/helpers.ts";
import { errorOf } from "./suite-errors.ts";
import { discover, instanceName, promptEndpoint, promptStream, shape } from "./spec-client.ts";

let server: NatsServer;
let agent: Mesh;
let caller: Mesh;
const responders: RoleResponder[] = [];

const refusing: RoleHandler = async function* (req) {
  if (req.prompt === "secret") throw new ForbiddenError(CallCode.Forbidden, "guard", "the tool 'vault' is not granted to this caller");
  throw new NotFoundError(CallCode.NotFound, "guard", `no document named '${req.prompt}'`);
};

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  agent = await connectMesh({ servers: server.url });
  caller = await connectMesh({ servers: server.url });
  const common = { host: "h1", owner: "team", heartbeatIntervalS: 0 };
  responders.push(await serveRole(agent, { ...common, role: "guard", handler: refusing }));
  responders.push(await serveRole(agent, { ...common, role: "tiny", handler: wordsHandler("h1"), maxPayload: 512 }));
  responders.push(await serveRole(agent, { ...common, role: "pair", host: "a", handler: wordsHandler("a"), concurrency: 20 }));
  responders.push(await serveRole(agent, { ...common, role: "pair", host: "b", handler: wordsHandler("b"), concurrency: 20 }));
  await agent.nc.flush();
});
afterAll(async () => {
  await Promise.all(responders.map((r) => r.close()));
  await caller?.close();
  await agent?.close();
  await server?.[Symbol.asyncDispose]();
});

async function subjectOf(role: string): Promise<string> {
  const r = (await discover(caller.nc)).find((x) => instanceName(x) === role);
  return promptEndpoint(r!).subject;
}

describe("serveRole: §9.2 codes a handler raises", () => {
  it.each([
    ["secret", "403"],
    ["missing.txt", "404"],
  ])("'%s' → %s after the ack, then the terminator (§9.3)", async (prompt, code) => {
    const s = await promptStream(caller.nc, await subjectOf("guard"), prompt, { inactivityMs: 20_000 });
    expect(shape(s.items)[0]).toBe("status:ack");
    expect(errorOf(s.items).code).toBe(code);
  });
});

describe("serveRole: §2.1, §5.4 max_payload", () => {
  it("advertises its own limit and refuses a larger request with 400 (agents MAY enforce server-side)", async () => {
    const r = (await discover(caller.nc)).find((x) => instanceName(x) === "tiny")!;
    expect(promptEndpoint(r).metadata?.max_payload).toBe("512B");
    const s = await promptStream(caller.nc, promptEndpoint(r).subject, "y".repeat(600), { inactivityMs: 20_000 });
    const e = errorOf(s.items);
    expect(e.code).toBe("400");
    expect(e.description).toMatch(/max_payload of 512 bytes/);
    expect(shape((await promptStream(caller.nc, promptEndpoint(r).subject, "small", { inactivityMs: 20_000 })).items)).toEqual([
      "status:ack",
      "response",
      "end",
    ]);
  });
});

describe("serveRole: §3.4 instances and shutting down", () => {
  it("two instances of one role share one prompt subject and queue group; each request is answered exactly once", async () => {
    const pair = (await discover(caller.nc)).filter((x) => instanceName(x) === "pair");
    expect(pair).toHaveLength(2);
    expect(new Set(pair.map((p) => promptEndpoint(p).subject)).size).toBe(1);
    expect(new Set(pair.map((p) => p.id)).size).toBe(2);
    const subject = promptEndpoint(pair[0]!).subject;
    const runs = await Promise.all(Array.from({ length: 20 }, () => promptStream(caller.nc, subject, "hi", { inactivityMs: 20_000 })));
    for (const s of runs) expect(shape(s.items).filter((x) => x === "status:ack")).toHaveLength(1);
    // Which instance answered is in Lyra-Host on the ack; 20 requests over two members of the queue group reach both.
    const hosts = new Set(runs.map((s) => s.msgs[0]!.headers?.get("Lyra-Host")));
    expect(hosts).toEqual(new Set(["a", "b"]));
  });

  it("a draining instance aborts running work with 429 shutting_down (Lyra's 503), so a caller retries elsewhere", async () => {
    const hold = gate();
    const started = gate();
    const r = await serveRole(agent, {
      role: "leaving",
      host: "h1",
      heartbeatIntervalS: 0,
      graceMs: 100,
      handler: async function* (_req, ctx) {
        started.open();
        await Promise.race([hold.promise, new Promise((res) => ctx.signal.addEventListener("abort", res))]);
        yield { type: "response", data: "never" };
      },
    });
    await agent.nc.flush();
    const subject = await subjectOf("leaving");
    const pending = promptStream(caller.nc, subject, "stay", { inactivityMs: 20_000 });
    await started.promise;
    await r.drain();
    const e = errorOf((await pending).items);
    expect(e.code).toBe("429");
    expect(e.body).toMatchObject({ error: "shutting_down", lyra_status: 503 });
    hold.open();
  });
});

describe("serveRole: §8.7.1 status failures", () => {
  it("a status payload that cannot be built is a 500 response, and the service keeps serving", async () => {
    let fail = true;
    const service = await addRoleService(agent.nc, {
      role: "shaky",
      host: "h1",
      owner: "team",
      version: "0.1.0",
      description: "a role whose status builder fails once",
      metadata: {},
      maxPayload: 1024,
      attachments: false,
      stats: () => ({}),
      status: () => {
        if (fail) throw new Error("clock unavailable");
        return { agent: "lyra", owner: "team", instance_id: "x", ts: new Date().toISOString(), interval_s: 30 };
      },
      handler: () => undefined,
    });
    // The service's subscriptions reach the server before the other connection asks for it.
    await agent.nc.flush();
    try {
      const r = (await discover(caller.nc)).find((x) => instanceName(x) === "shaky")!;
      const status = r.endpoints.find((e) => e.name === "status")!.subject;
      const bad = await caller.nc.request(status, "", { timeout: 5000 });
      expect(bad.headers?.get("Nats-Service-Error-Code")).toBe("500");
      expect(bad.headers?.get("Nats-Service-Error")).toMatch(/clock unavailable/);
      fail = false;
      const good = await caller.nc.request(status, "", { timeout: 5000 });
      expect(good.headers?.get("Nats-Service-Error-Code")).toBeUndefined();
      expect(good.json<{ interval_s: number }>().interval_s).toBe(30);
    } finally {
      await service.stop();
    }
  });
});
