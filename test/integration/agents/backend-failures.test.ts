/**
 * Ollama busy, slow to the first token, or without the model: with a fallback alias the fallback
 * answers (and says why); without one a typed error reaches the caller promptly, never a hang.
 * Each case gets its own Ollama double and agent host, so one case's breaker never leaks into another.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { BusyError, UnavailableError } from "../../../mesh/errors.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { AgentHost } from "../../../agents/host/host.ts";
import type { NatsServer } from "../../harness/nats-server.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { startOllamaDouble, type OllamaDoubleOptions } from "../../doubles/ollama.ts";
import { startOpenAIDouble, type OpenAIDouble } from "../../doubles/openai.ts";
import { agentConfig, drain, MODEL, PATIENT, rejectionOf, startTestAgent, within, words, type RoleYaml } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let fx: MeshFixture;
let server: NatsServer;
let mesh: Mesh;
let litellm: OpenAIDouble;
let client: RoleClient;

beforeAll(async () => {
  fx = await startMeshFixture();
  // The per-case agent hosts serve on the agent connection; the client calls from the other.
  ({ server, agent: mesh } = fx);
  litellm = fx.own(await startOpenAIDouble({ models: ["lyra-voice"], reply: () => "cloud answer" }));
  client = fx.own(createRoleClient(fx.caller, PATIENT));
});

afterAll(() => fx?.[Symbol.asyncDispose]());

/** An Ollama double and an agent host serving `voice` from it, disposed together. */
async function voiceAgent(ollamaOpts: OllamaDoubleOptions, role: RoleYaml) {
  const ollama = await startOllamaDouble({ models: [MODEL], ...ollamaOpts });
  let host: AgentHost;
  try {
    host = await startTestAgent(
      mesh,
      agentConfig({
        natsUrl: server.url,
        ollamaUrl: ollama.url,
        litellmUrl: litellm.baseURL,
        roles: { voice: role },
        hosts: { local: { roles: ["voice"] } },
      }),
    );
  } catch (err) {
    await ollama.close();
    throw err;
  }
  const chats = () => ollama.requests.filter((r) => r.path === "/api/chat");
  return {
    ollama,
    host,
    chats,
    /** Waits until the start-up warm-up is done, so it holds none of Ollama's slots. */
    warmed: () => eventually("the warm-up", async () => (await host.checkHealth(), host.state()[0]?.loaded), { timeoutMs: 15_000 }),
    async [Symbol.asyncDispose]() {
      await host.close();
      await ollama.close();
    },
  };
}

const FALLBACK: RoleYaml = { fallback: "lyra-voice" };

describe("agent host: Ollama busy (503)", () => {
  // parallel: 1 and a long first answer: a second call finds Ollama's only slot taken.
  const busyOllama: OllamaDoubleOptions = { parallel: 1, tokenDelayMs: 100, reply: () => words(30) };

  it("with a fallback alias: the second call is answered by the fallback, marked backend_busy", async () => {
    await using a = await voiceAgent(busyOllama, FALLBACK);
    await a.warmed();
    const first = client.stream("voice", "long one");
    await eventually("the first chat to reach Ollama", () => a.chats().length === 1, { timeoutMs: 15_000 });
    const second = await within(client.call("voice", "short one"), 15_000, "the second call");
    expect(second.text).toBe("cloud answer");
    expect(second.final).toMatchObject({ backend: "openai", model: "lyra-voice", fallback: { reason: "backend_busy", from: "ollama" } });
    const { deltas, final } = await within(drain(first), 20_000, "the first call");
    expect(deltas.join("")).toBe(words(30));
    expect(final?.backend).toBe("ollama");
  });

  it("without one: 429 reaches the caller as BusyError after its retries", async () => {
    await using a = await voiceAgent(busyOllama, {});
    await a.warmed();
    const first = client.stream("voice", "long one");
    await eventually("the first chat to reach Ollama", () => a.chats().length === 1, { timeoutMs: 15_000 });
    const err = await within(rejectionOf(client.call("voice", "short one", { maxAttempts: 2 })), 15_000, "the busy call");
    expect(err).toBeInstanceOf(BusyError);
    expect((err as BusyError).status).toBe(429);
    expect(err.message).toMatch(/Ollama on .* is busy \(503/);
    expect(a.chats()).toHaveLength(1 + 2); // the long chat, and the short one twice (a retry)
    // The first call is unharmed; stop it rather than wait for all of it.
    for await (const c of first) if (c.type === "response") break;
  });

  it("a 503 from an idle Ollama: the fallback answers that one call, Ollama the next", async () => {
    // Scripted on /api/chat only, so health probes and the warm-up cannot use it up.
    let busyOnce = true;
    const reply = () =>
      busyOnce
        ? ((busyOnce = false), { status: 503, error: "server busy, please try again.  maximum pending requests exceeded" })
        : "local answer";
    await using _a = await voiceAgent({ reply }, FALLBACK);
    const r1 = await within(client.call("voice", "one"), 15_000, "the call");
    expect(r1.final.fallback).toEqual({ reason: "backend_busy", from: "ollama" });
    const r2 = await within(client.call("voice", "two"), 15_000, "the next call");
    expect(r2).toMatchObject({ text: "local answer", final: { backend: "ollama" } });
  });
});

describe("agent host: no first token within first_token_timeout_ms", () => {
  const slow: OllamaDoubleOptions = { firstTokenDelayMs: 10_000 };

  it("with a fallback alias: the fallback answers, marked first_token_timeout", async () => {
    await using _a = await voiceAgent(slow, { ...FALLBACK, first_token_timeout_ms: 300 });
    const r = await within(client.call("voice", "hello"), 15_000, "the call");
    expect(r.text).toBe("cloud answer");
    expect(r.final).toMatchObject({ backend: "openai", fallback: { reason: "first_token_timeout", from: "ollama" } });
  });

  it("without one: 503 UnavailableError naming the fix, well before the model would have answered", async () => {
    await using a = await voiceAgent(slow, { first_token_timeout_ms: 300 });
    const err = await within(rejectionOf(client.call("voice", "hello", { maxAttempts: 2 })), 9_000, "the slow call");
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).status).toBe(503);
    expect(err.message).toContain("sent no first token within 300 ms; raise first_token_timeout_ms");
    // Each attempt's HTTP request to Ollama was torn down, not left running.
    await eventually("Ollama's requests to be aborted", () => a.chats().length === 2 && a.chats().every((r) => r.aborted), {
      timeoutMs: 15_000,
    });
  });
});

describe("agent host: the model is not pulled", () => {
  const noModel: OllamaDoubleOptions = { models: ["other:1b"] };

  it("with a fallback alias: the role is degraded (with the pull command) and the fallback answers", async () => {
    await using a = await voiceAgent(noModel, FALLBACK);
    expect(a.host.state()[0]).toMatchObject({ degraded: true, reason: `model '${MODEL}' is not pulled; run 'ollama pull ${MODEL}'` });
    const r = await within(client.call("voice", "hello"), 15_000, "the call");
    expect(r.text).toBe("cloud answer");
    expect(r.final).toMatchObject({ backend: "openai", fallback: { reason: "model_not_found", from: "ollama" } });
  });

  it("without one: 503 UnavailableError telling the operator to pull it", async () => {
    await using _a = await voiceAgent(noModel, {});
    const err = await within(rejectionOf(client.call("voice", "hello")), 15_000, "the call");
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).status).toBe(503);
    expect(err.message).toContain(`model '${MODEL}' is not pulled`);
    expect(err.message).toContain(`run 'ollama pull ${MODEL}' there`);
  });
});
