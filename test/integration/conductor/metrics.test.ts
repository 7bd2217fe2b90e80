/**
 * lyra core's /metrics: turns, stage latency by stage and role, inbox lag and backlog,
 * redeliveries and dead letters, as the conductor reports them, in valid exposition format.
 */
import { spawnSync } from "node:child_process";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { createCoreMetrics, startConductor, type Conductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { publishInbox } from "../../../mesh/frontdoor.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { serveMetrics } from "../../../mesh/metrics-server.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { startAgentHost, type AgentHost } from "../../../agents/host/host.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { askTurn, newId, outboxOf } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let server: NatsServer;
let mesh: Mesh;
let host: AgentHost;
const committee = committeeFromConfig(committeeConfig({ natsUrl: "nats://unused" }));

beforeAll(async () => {
  server = await startNatsServer();
  mesh = await connectMesh({ servers: server.url });
  // Slow specialists and voice, so a turn is still running when its conductor is stopped.
  host = await startAgentHost({
    config: committeeConfig({ natsUrl: server.url, delayMs: 100 }),
    host: "local",
    mesh,
    log: silentLogger,
    metricsPort: null,
    heartbeatIntervalS: 0,
  });
});

afterAll(async () => {
  await host?.close();
  await mesh?.close();
  await server?.[Symbol.asyncDispose]();
});

/** The value of one sample line, `name{labels}`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("lyra core metrics", () => {
  it("count turns, stages, lag, backlog, redeliveries and dead letters", async () => {
    // A first conductor takes a turn and its connection dies mid-turn (no ack, no nak): JetStream
    // redelivers the message after the ack wait.
    const dying = await connectMesh({ servers: server.url });
    const first: Conductor = await startConductor(dying, { roles: createRoleClient(dying), committee, ackWaitMs: 3000 });
    const conv = newId("c");
    await publishInbox(mesh, { id: newId(), channel: "cli", conversation: conv, user: { id: "t" }, text: "how do I bake bread?" });
    await eventually("the first conductor to start the turn", () => (first.inFlight() === 1 ? true : undefined), { timeoutMs: 10_000 });
    await dying.close();
    void first.close();

    // The measured conductor: it gets the redelivery, then two fresh turns and an unreadable message.
    const metrics = createCoreMetrics(() => conductor);
    const conductor: Conductor = await startConductor(mesh, {
      roles: createRoleClient(mesh),
      committee,
      ackWaitMs: 3000,
      onTurn: metrics.onTurn,
      onEvent: metrics.onEvent,
    });
    const http = await serveMetrics(metrics.registry, 0, "127.0.0.1");
    try {
      await eventually("the redelivered turn's reply", async () => ((await outboxOf(mesh, conv)).length ? true : undefined), {
        timeoutMs: 30_000,
      });
      await askTurn(mesh, newId("c"), "Why is the sky blue?");
      await askTurn(mesh, newId("c"), "How do I fix a bike?");
      await jetstream(mesh.nc).publish(subjects.inbox("cli", "garbage"), new TextEncoder().encode("\u00c1 not msgpack, not JSON"), {
        headers: undefined,
      });

      const scrape = async () => (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
      const text = await eventually(
        "the dead letter to be counted",
        async () => {
          const t = await scrape();
          return sample(t, 'lyra_dead_letters_total{cause="undecodable"}') === 1 ? t : undefined;
        },
        { timeoutMs: 10_000 },
      );

      expect(sample(text, 'lyra_turns_total{outcome="ok"}')).toBe(3);
      expect(sample(text, "lyra_inbox_redeliveries_total")).toBe(1);
      expect(sample(text, 'lyra_dead_letters_total{cause="max_deliver"}')).toBe(0);
      // Lag is measured on first deliveries: the two fresh turns and the unreadable message.
      expect(sample(text, "lyra_inbox_lag_seconds_count")).toBe(3);
      // The redelivered turn re-runs only the steps its first conductor had not logged: the router
      // has no delay, so on a loaded machine the first conductor may have finished it already.
      expect(sample(text, 'lyra_turn_stage_duration_seconds_count{stage="router",role="router",outcome="ok"}')).toBeOneOf([2, 3]);
      expect(sample(text, 'lyra_turn_stage_duration_seconds_count{stage="specialist",role="philosopher",outcome="ok"}')).toBe(1);
      expect(sample(text, 'lyra_turn_stage_duration_seconds_count{stage="specialist",role="pragmatist",outcome="ok"}')).toBe(2);
      expect(sample(text, 'lyra_turn_stage_duration_seconds_count{stage="voice",role="voice",outcome="ok"}')).toBe(3);
      expect(sample(text, 'lyra_inbox_backlog{state="pending"}')).toBe(0);
      expect(sample(text, "lyra_turns_in_flight")).toBe(0);
      expect(sample(text, "lyra_core_process_resident_memory_bytes")).toBeGreaterThan(0);

      const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      if (promtool.error)
        throw new Error("promtool not found: install it with 'sudo apt-get install --no-install-recommends prometheus' (Debian/Ubuntu)");
      // Exit 3 is lint findings only; the default Node.js metrics' counter names are prom-client's.
      const findings = (promtool.stdout + promtool.stderr)
        .split("\n")
        .filter((l) => l.trim() && !/^lyra_core_nodejs_active_\w+_total /.test(l));
      expect([0, 3], promtool.stdout + promtool.stderr).toContain(promtool.status);
      expect(findings).toEqual([]);
    } finally {
      http.close();
      await conductor.close();
    }
  }, 60_000);
});
