/** /metrics of a running agent host: request counts, first-token latency, in-flight, fallbacks. */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { AgentHost } from "../../../agents/host/host.ts";
import { MODEL, within, words } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";
import { startAgentFixture, type AgentFixture } from "./fixture.ts";

let fx: AgentFixture;
let host: AgentHost;
let client: RoleClient;
/** The next /api/chat answer fails with 500 when set (a crashed llama runner). */
let failChat = false;

beforeAll(async () => {
  fx = await startAgentFixture({
    ollama: {
      models: [MODEL],
      tokenDelayMs: 50,
      reply: (b) => {
        if (failChat) return ((failChat = false), { status: 500, error: "llama runner process has terminated" });
        return b.messages?.at(-1)?.content === "slow" ? words(40) : "fine";
      },
    },
    litellm: { models: ["lyra-voice"] },
    config: {
      roles: { voice: { fallback: "lyra-voice" } },
      hosts: { local: { roles: ["voice"] } },
      usage: { prices: { [MODEL]: { input: 1, output: 2 } } },
    },
    metricsPort: 0,
  });
  ({ host, client } = fx);
});

afterAll(() => fx?.[Symbol.asyncDispose]());

async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${host.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one sample line, e.g. sample(text, 'lyra_role_requests_total{role="voice",code="200"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("agent host: /metrics", () => {
  it("serves requests, time to first token, in-flight and fallbacks after some calls", async () => {
    expect(host.metricsPort).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await within(client.call("voice", "hi"), 15_000, "a call");
    failChat = true;
    const fb = await within(client.call("voice", "hi"), 15_000, "the fallback call");
    expect(fb.final.fallback?.reason).toBe("backend_error");

    // One call still running: in-flight reads 1 while it streams.
    const slow = client.stream("voice", "slow");
    await eventually("in-flight = 1 on /metrics", async () => sample(await scrape(), 'lyra_role_in_flight{role="voice"}') === 1, {
      timeoutMs: 15_000,
    });
    for await (const _ of slow) {
      // drain
    }

    const text = await scrape();
    expect(sample(text, 'lyra_role_requests_total{role="voice",code="200"}')).toBe(5);
    expect(sample(text, 'lyra_role_in_flight{role="voice"}')).toBe(0);
    expect(sample(text, 'lyra_role_queue_depth{role="voice"}')).toBe(0);
    expect(sample(text, 'lyra_role_fallbacks_total{role="voice",reason="backend_error"}')).toBe(1);
    expect(sample(text, 'lyra_role_time_to_first_token_seconds_count{role="voice"}')).toBe(5);
    expect(sample(text, 'lyra_role_time_to_first_token_seconds_bucket{le="+Inf",role="voice"}')).toBe(5);
    expect(sample(text, 'lyra_role_degraded{role="voice"}')).toBe(0);
    expect(text).toContain("# TYPE lyra_role_requests_total counter");
    expect(text).toContain("# TYPE lyra_role_time_to_first_token_seconds histogram");
    expect(text).toContain("# TYPE lyra_role_in_flight gauge");
    expect(text).toContain("# TYPE lyra_role_fallbacks_total counter");
    // Tokens and cost by role, model and backend: the priced model has a cost, the unpriced fallback alias none.
    const out = sample(text, `lyra_role_tokens_total{role="voice",kind="completion",model="${MODEL}",backend="ollama"}`);
    const cin = sample(text, `lyra_role_tokens_total{role="voice",kind="prompt",model="${MODEL}",backend="ollama"}`);
    expect(out).toBeGreaterThan(0);
    expect(cin).toBeGreaterThan(0);
    const cost = sample(text, `lyra_role_cost_usd_total{role="voice",model="${MODEL}",backend="ollama"}`);
    expect(cost).toBeCloseTo((cin! * 1 + out! * 2) / 1e6, 12);
    expect(text).toMatch(/^lyra_role_tokens_total\{role="voice",kind="completion",model="lyra-voice",backend="openai"\} \d+$/m);
    expect(text).not.toMatch(/^lyra_role_cost_usd_total\{[^}]*model="lyra-voice"/m);

    // The exposition format, checked by Prometheus' own tool.
    const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    if (promtool.error)
      throw new Error("promtool not found: install it with 'sudo apt-get install --no-install-recommends prometheus' (Debian/Ubuntu)");
    // Exit 1 is a format error; 3 is lint findings, allowed only for prom-client's default
    // process metrics (its *_active_*_total gauges), never for Lyra's own.
    const findings = (promtool.stdout + promtool.stderr)
      .split("\n")
      .filter((l) => l.trim() && !/^lyra_agent_nodejs_active_\w+_total /.test(l));
    expect([0, 3], promtool.stdout + promtool.stderr).toContain(promtool.status);
    expect(findings).toEqual([]);
  });

  it("answers /healthz, and 404 elsewhere", async () => {
    expect(await (await fetch(`http://127.0.0.1:${host.metricsPort}/healthz`)).text()).toBe("ok\n");
    expect((await fetch(`http://127.0.0.1:${host.metricsPort}/nope`)).status).toBe(404);
  });
});
