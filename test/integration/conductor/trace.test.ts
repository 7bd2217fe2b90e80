/**
 * A trace id put on `lyra ask` reaches every hop: the real `lyra core`, `lyra agent` and
 * `lyra tools` processes log it (conductor, router, specialist, voice, the tool call), the
 * conversation log events carry it, and with telemetry.otlp set the spans of all three processes
 * reach an OTLP/HTTP collector as one trace with a parent chain.
 */
import { appendFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { rootTraceparent } from "../../../mesh/telemetry.ts";
import { runLyra, writeCommitteeConfig, type CliProcess } from "../../harness/committee.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { startOtlpCollectorDouble, type OtlpCollectorDouble } from "../../doubles/otlp.ts";
import { logOf } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let server: NatsServer;
let mesh: Mesh;
let collector: OtlpCollectorDouble;

beforeAll(async () => {
  server = await startNatsServer({ jetstream: true });
  mesh = await connectMesh({ servers: server.url });
  collector = await startOtlpCollectorDouble();
});

afterAll(async () => {
  await mesh?.close();
  await collector?.close();
  await server?.[Symbol.asyncDispose]();
});

/** Starts tools, agent and core from one config file; stop() sends SIGTERM and waits. */
async function startMesh(otlp: boolean) {
  const cfg = writeCommitteeConfig({ natsUrl: server.url, clock: true });
  if (otlp) appendFileSync(cfg, `telemetry: { otlp: { endpoint: "${collector.url}", headers: { x-test: "\${LYRA_TEST_OTLP_KEY}" } } }\n`);
  const env = { LYRA_TEST_OTLP_KEY: "k1" };
  const procs = {
    tools: runLyra(["tools", "--config", cfg, "--metrics-port", "0"], env),
    agent: runLyra(["agent", "--host", "local", "--config", cfg, "--metrics-port", "0"], env),
    core: runLyra(["core", "--config", cfg, "--metrics-port", "0"], env),
  };
  await Promise.all([
    procs.tools.waitFor(/lyra tools ready/),
    procs.agent.waitFor(/role voice: ready/),
    procs.core.waitFor(/conductor ready/),
  ]);
  return {
    procs,
    async stop() {
      for (const p of Object.values(procs)) p.proc.kill("SIGTERM");
      return Promise.all(Object.values(procs).map((p) => p.exited));
    },
  };
}

/** The JSON log lines of a process that carry `traceId`. */
function traced(p: CliProcess, traceId: string): Record<string, unknown>[] {
  return p
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.trace_id === traceId);
}

async function ask(traceArg: string, conversation: string) {
  const a = runLyra(["ask", "--nats", server.url, "--conversation", conversation, "--trace", traceArg, "what time is it?"]);
  expect(await a.exited).toBe(0);
  return a;
}

describe("trace context across the committee", () => {
  it("a trace id given to lyra ask is in the log lines of every hop and in every conversation log event", async () => {
    const m = await startMesh(false);
    try {
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const a = await ask(traceId, "trace-logs");
      expect(a.output()).toContain(`trace ${traceId}`);
      expect(a.stdout()).toMatch(/Pragmatist read the clock/);

      // Conductor: the turn and its three steps.
      const core = await eventually(
        "the conductor's 'turn done' line",
        () => {
          const l = traced(m.procs.core, traceId);
          return l.some((e) => e.msg === "turn done") ? l : undefined;
        },
        { timeoutMs: 10_000 },
      );
      expect(core.map((e) => e.msg)).toEqual(expect.arrayContaining(["turn started", "committee step done", "turn done"]));
      expect(core.filter((e) => e.msg === "committee step done").map((e) => e.step)).toEqual(["router", "specialist", "voice"]);

      // Agent: router, specialist and voice each answered a request of this trace.
      const agent = traced(m.procs.agent, traceId).filter((e) => e.msg === "role request ended");
      expect(agent.map((e) => e.role).sort()).toEqual(["pragmatist", "router", "voice"]);
      expect(agent.every((e) => e.outcome === "completed")).toBe(true);

      // Tool server: the specialist's clock call.
      const tools = traced(m.procs.tools, traceId).filter((e) => e.msg === "tool call answered");
      expect(tools).toHaveLength(1);
      expect(tools[0]).toMatchObject({ server: "clock", tool: "now", caller: "pragmatist" });

      // Conversation log: every event of the turn, tool calls included.
      const events = await logOf(mesh, "trace-logs");
      expect(events.map((e) => e.type)).toEqual([
        "user_message",
        "routed",
        "specialist_started",
        "tool_call",
        "tool_result",
        "specialist_finished",
        "voice_reply",
      ]);
      expect(events.every((e) => e.trace_id === traceId)).toBe(true);

      // Without a --trace, ask starts a trace of its own and prints it.
      const b = runLyra(["ask", "--nats", server.url, "--conversation", "trace-fresh", "hello"]);
      expect(await b.exited).toBe(0);
      const fresh = /trace ([0-9a-f]{32})/.exec(b.output())?.[1];
      expect(fresh).toBeDefined();
      expect((await logOf(mesh, "trace-fresh")).every((e) => e.trace_id === fresh)).toBe(true);

      // A malformed --trace is refused before anything is sent.
      const bad = runLyra(["ask", "--nats", server.url, "--trace", "not-a-trace", "hi"]);
      expect(await bad.exited).toBe(2);
      expect(bad.output()).toMatch(/--trace: 'not-a-trace' is not a trace id/);
    } finally {
      expect(await m.stop()).toEqual([0, 0, 0]);
    }
  }, 90_000);

  it("with telemetry.otlp set, the spans of core, agent and tools reach the collector as one trace", async () => {
    const m = await startMesh(true);
    const traceparent = rootTraceparent();
    const traceId = traceparent.split("-")[1]!;
    const rootSpan = traceparent.split("-")[2]!;
    try {
      await ask(traceparent, "trace-otlp");
    } finally {
      // SIGTERM flushes the exporters.
      expect(await m.stop()).toEqual([0, 0, 0]);
    }
    expect(collector.refused()).toEqual([]);
    expect(collector.headers().every((h) => h["x-test"] === "k1")).toBe(true); // telemetry.otlp.headers, ${VAR} expanded
    const spans = collector.spans().filter((s) => s.traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found, `span '${name}' in ${spans.map((s) => s.name).join(", ")}`).toHaveLength(1);
      return found[0]!;
    };
    const parentOf = (name: string) => byId.get(one(name).parentSpanId ?? "")?.name;

    const turn = one("turn");
    expect(turn.service).toBe("lyra-core");
    expect(turn.parentSpanId).toBe(rootSpan); // the span lyra ask put on the inbox message
    expect(parentOf("step router")).toBe("turn");
    expect(parentOf("role router")).toBe("step router");
    expect(parentOf("role pragmatist")).toBe("step specialist");
    expect(parentOf("tool clock.now")).toBe("role pragmatist");
    expect(parentOf("mcp tools/call now")).toBe("tool clock.now");
    expect(parentOf("role voice")).toBe("step voice");
    expect(one("role router").service).toBe("lyra-agent");
    expect(one("mcp tools/call now").service).toBe("lyra-tools");
    expect(spans.some((s) => s.error)).toBe(false);
  }, 90_000);
});
