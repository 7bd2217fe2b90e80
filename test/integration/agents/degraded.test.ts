/**
 * Ollama down when the agent starts: the agent still starts, reports the role degraded and answers
 * through the LiteLLM fallback; once Ollama is back it answers from Ollama again.
 *
 * The primary's circuit breaker opens after 3 consecutive failures and stays open 30 s. This test
 * makes exactly one call while Ollama is down (one failure), so the breaker stays closed and the
 * next call after Ollama returns goes to Ollama without waiting out the open period.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { AgentHost } from "../../../agents/host/host.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { startOllamaDouble, type OllamaDouble } from "../../doubles/ollama.ts";
import { startOpenAIDouble, type OpenAIDouble } from "../../doubles/openai.ts";
import { discoverRoles } from "../../../mesh/discovery.ts";
import { agentConfig, drain, MODEL, PATIENT, startTestAgent, within } from "./helpers.ts";

let server: NatsServer;
let mesh: Mesh;
let ollama: OllamaDouble;
let litellm: OpenAIDouble;
let host: AgentHost;
let client: RoleClient;

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: server.url });
  ollama = await startOllamaDouble({ models: [MODEL], reply: () => "local answer" });
  litellm = await startOpenAIDouble({ models: ["lyra-voice"], reply: () => "cloud answer" });
  await ollama.down();
  const config = agentConfig({
    natsUrl: server.url,
    ollamaUrl: ollama.url,
    litellmUrl: litellm.baseURL,
    roles: { voice: { fallback: "lyra-voice" } },
    hosts: { local: { roles: ["voice"] } },
  });
  host = await startTestAgent(mesh, config);
  client = createRoleClient(mesh, PATIENT);
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  await mesh?.close();
  await ollama?.close();
  await litellm?.close();
  await server?.[Symbol.asyncDispose]();
});

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
