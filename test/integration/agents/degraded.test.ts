/**
 * Ollama down when the agent starts: the agent still starts, reports the role degraded and answers
 * through the LiteLLM fallback; once Ollama is back it answers from Ollama again.
 *
 * The primary's circuit breaker opens after 3 consecutive failures and stays open 30 s. This test
 * makes exactly one call while Ollama is down (one failure), so the breaker stays closed and the
 * next call after Ollama returns goes to Ollama without waiting out the open period.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { AgentHost } from "../../../agents/host/host.ts";
import type { OllamaDouble } from "../../doubles/ollama.ts";
import type { OpenAIDouble } from "../../doubles/openai.ts";
import { discoverRoles } from "../../../mesh/discovery.ts";
import { drain, MODEL, within } from "./helpers.ts";
import { startAgentFixture, type AgentFixture } from "./fixture.ts";

let fx: AgentFixture;
let mesh: Mesh;
let ollama: OllamaDouble;
let litellm: OpenAIDouble;
let host: AgentHost;
let client: RoleClient;

beforeAll(async () => {
  fx = await startAgentFixture({
    ollama: { models: [MODEL], reply: () => "local answer" },
    litellm: { models: ["lyra-voice"], reply: () => "cloud answer" },
    ollamaDown: true,
    config: { roles: { voice: { fallback: "lyra-voice" } }, hosts: { local: { roles: ["voice"] } } },
  });
  ({ mesh, ollama, host, client } = fx);
  litellm = fx.litellm!;
});

afterAll(() => fx?.[Symbol.asyncDispose]());

describe("agent host: Ollama down at start", () => {
  it("starts anyway and reports the role degraded, with the reason (state and $SRV.STATS)", async () => {
    const [voice] = host.state();
    expect(voice).toMatchObject({ role: "voice", degraded: true, loaded: false });
    expect(voice?.reason).toMatch(/not reachable/);
    const found = await discoverRoles(mesh, { timeoutMs: 3000 });
    expect(found.find((f) => f.role === "voice")?.stats.data).toMatchObject({ degraded: true, loaded: false, model: MODEL });
  });

  it("answers through the fallback alias; the final says backend openai and why", async () => {
    const { deltas, final } = await within(drain(client.stream("voice", "hi")), 15_000, "the fallback call");
    expect(deltas.join("")).toBe("cloud answer");
    expect(final).toMatchObject({
      backend: "openai",
      model: "lyra-voice",
      host: "local",
      fallback: { reason: "backend_unavailable", from: "ollama" },
    });
    expect((litellm.requests.at(-1)?.body as { model: string }).model).toBe("lyra-voice");
  });

  it("uses Ollama again once it is back, and the role is no longer degraded", async () => {
    await ollama.up();
    await host.checkHealth();
    expect(host.state()[0]).toMatchObject({ degraded: false });
    expect(host.state()[0]?.reason).toBeUndefined();
    const before = litellm.requests.length;
    const r = await within(client.call("voice", "hi again"), 15_000, "the call after recovery");
    expect(r.text).toBe("local answer");
    expect(r.final.backend).toBe("ollama");
    expect(r.final.fallback).toBeUndefined();
    expect(litellm.requests.length).toBe(before);
    const fallbacks = await host.metrics.fallbacks.get();
    expect(fallbacks.values).toEqual([expect.objectContaining({ labels: { role: "voice", reason: "backend_unavailable" }, value: 1 })]);
  });
});
