/** A role served by the agent host from (the double of) the local Ollama: streamed and plain calls. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { AgentHost } from "../../../agents/host/host.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { startOllamaDouble, type OllamaDouble } from "../../doubles/ollama.ts";
import { agentConfig, bodyOf, drain, isTerminator, MODEL, PATIENT, rawExchange, startTestAgent, within, words } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let server: NatsServer;
let mesh: Mesh;
let ollama: OllamaDouble;
let host: AgentHost;
let client: RoleClient;

const ANSWER = words(12);

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: server.url });
  ollama = await startOllamaDouble({ models: [MODEL], tokenDelayMs: 5, reply: () => ANSWER });
  host = await startTestAgent(
    mesh,
    agentConfig({
      natsUrl: server.url,
      ollamaUrl: ollama.url,
      roles: { voice: { keep_alive: "24h" } },
      hosts: { local: { roles: ["voice"] } },
    }),
  );
  client = createRoleClient(mesh, PATIENT);
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  await mesh?.close();
  await ollama?.close();
  await server?.[Symbol.asyncDispose]();
});

describe("agent host: a role answered from Ollama", () => {
  it("streams the answer as several response deltas, then a final naming ollama, host, model and usage", async () => {
    const { chunks, deltas, final } = await within(drain(client.stream("voice", "say something")), 15_000, "the stream");
    expect(chunks[0]).toEqual({ type: "status", data: "ack" });
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe(ANSWER);
    expect(chunks.at(-1)?.type).toBe("final");
    expect(final).toMatchObject({ backend: "ollama", host: "local", role: "voice", model: MODEL });
    expect(final?.usage.completion_tokens).toBe(12);
    expect(final?.usage.prompt_tokens).toBeGreaterThan(0);
    expect(final?.fallback).toBeUndefined();
    // The request reached Ollama as a streamed chat for the role's model.
    const chat = ollama.requests.findLast((r) => r.path === "/api/chat")?.body as {
      model: string;
      stream: boolean;
      messages: { content: string }[];
    };
    expect(chat).toMatchObject({ model: MODEL, stream: true, keep_alive: "24h" });
    expect(chat.messages.at(-1)?.content).toBe("say something");
  });

  it("a plain request (what `nats req --wait-for-empty lyra.voice hello` sends) gets the ack, then one response chunk with the whole answer", async () => {
    // The first message is the ack (§6.4): a bare `nats req` prints only that.
    const first = await mesh.nc.request("lyra.voice", "hello", { timeout: 15_000 });
    expect(JSON.parse(new TextDecoder().decode(first.data))).toEqual({ type: "status", data: "ack" });

    // The whole exchange: the ack, keep-alives while it works, that one chunk, then the zero-byte terminator.
    const msgs = await rawExchange(mesh.nc, "lyra.voice", "hello", {}, 15_000);
    expect(bodyOf(msgs[0]!)).toEqual({ type: "status", data: "ack" });
    for (const m of msgs.slice(1, -2)) expect(bodyOf(m)).toMatchObject({ type: "status" });
    expect(bodyOf(msgs.at(-2)!)).toMatchObject({
      type: "response",
      data: { text: ANSWER, backend: "ollama", host: "local", model: MODEL },
    });
    expect(isTerminator(msgs.at(-1)!)).toBe(true);
    expect(msgs.at(-1)!.data.length).toBe(0);
  });

  it("reports the role healthy, with its model pre-loaded at start for the role's keep_alive", async () => {
    // The warm-up runs beside serving; wait for it rather than for a time.
    await eventually("the model to be loaded", async () => (await host.checkHealth(), host.state()[0]?.loaded), { timeoutMs: 15_000 });
    expect(host.state()).toEqual([
      expect.objectContaining({ role: "voice", model: MODEL, backend: "ollama", degraded: false, loaded: true }),
    ]);
    const warmUp = ollama.requests.find((r) => r.path === "/api/generate")?.body;
    expect(warmUp).toMatchObject({ model: MODEL, prompt: "", keep_alive: "24h" });
  });
});
