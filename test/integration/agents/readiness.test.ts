/**
 * The agent host's /readyz (its metrics port), apart from /healthz: 503 with the reasons while NATS
 * is disconnected, a role's backend is unhealthy or the host drains; 200 otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Readiness } from "../../../mesh/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { eventually } from "../../harness/eventually.ts";
import { drain, MODEL } from "./helpers.ts";
import { startAgentFixture, type AgentFixture } from "./fixture.ts";

let fx: AgentFixture;
let restarted: NatsServer | undefined;
beforeAll(async () => {
  fx = await startAgentFixture({
    ollama: { models: [MODEL], reply: () => "a local answer of several words, one at a time", tokenDelayMs: 100 },
    config: { hosts: { local: { roles: ["voice"] } } },
    metricsPort: 0,
  });
});
afterAll(async () => {
  await fx?.[Symbol.asyncDispose]();
  await restarted?.[Symbol.asyncDispose]();
});

async function probe(path = "/readyz"): Promise<{ status: number; body: Readiness }> {
  const r = await fetch(`http://127.0.0.1:${fx.host.metricsPort}${path}`);
  return { status: r.status, body: (await r.json()) as Readiness };
}

describe("agent host /readyz", () => {
  it("is ready when NATS is up and every role's backend healthy; /healthz stays liveness", async () => {
    expect(await probe()).toEqual({ status: 200, body: { ready: true, reasons: [] } });
    expect((await fetch(`http://127.0.0.1:${fx.host.metricsPort}/healthz`)).status).toBe(200);
  });

  it("is not ready while a role's backend is unhealthy, naming the role", async () => {
    await fx.ollama.down();
    await fx.host.checkHealth();
    const down = await probe();
    expect(down.status).toBe(503);
    expect(down.body.ready).toBe(false);
    expect(down.body.reasons).toEqual([expect.stringMatching(/^role voice: .*not reachable/)]);
    await fx.ollama.up();
    await fx.host.checkHealth();
    expect((await probe()).status).toBe(200);
  });

  it("is not ready while NATS is disconnected, and ready again once it reconnects", async () => {
    const { port, storeDir } = fx.server;
    await fx.server.close();
    await eventually("/readyz says NATS is disconnected", async () => {
      const r = await probe();
      return r.status === 503 && r.body.reasons.some((x) => /NATS disconnected/.test(x));
    });
    // /healthz is liveness: the process answers, whatever its connections.
    expect((await fetch(`http://127.0.0.1:${fx.host.metricsPort}/healthz`)).status).toBe(200);
    restarted = await startNatsServer({ port, storeDir });
    await eventually("/readyz ready after the reconnect", async () => (await probe()).status === 200, { timeoutMs: 30_000 });
  });

  it("is not ready while the host drains", async () => {
    const answer = drain(fx.client.stream("voice", "a long answer please"));
    await eventually("the request in flight", () => fx.host.responders[0]!.inFlight() > 0);
    const stopping = fx.host.drain();
    expect(await probe()).toEqual({ status: 503, body: { ready: false, reasons: ["draining"] } });
    await answer;
    await stopping;
  });
});
