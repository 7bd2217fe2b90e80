/**
 * The response cache on the real model: an agent host serving a specialist on real Ollama
 * (smollm2) with an exact and semantic cache (real all-minilm embeddings) in a real nats-server's
 * KV bucket. A repeated prompt is an exact hit and a paraphrase a semantic hit, with no model call;
 * another user's paraphrase and a different question of the same user go to the model.
 */
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createRoleClient } from "../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../mesh/rolecall/types.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import { responseText, type FinalInfo, type RoleRequest } from "../../schemas/index.ts";
import { startAgentHost, type AgentHost } from "../../agents/host/host.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, EMBED_MODEL, PATIENT, startOllama, type RealOllama } from "../harness/real.ts";

let server: NatsServer;
let ollama: RealOllama;
let mesh: Mesh;
let host: AgentHost;
let client: RoleClient;

beforeAll(async () => {
  [server, ollama] = await Promise.all([startNatsServer(), startOllama()]);
  const yaml = stringify({
    mesh: { name: "real-cache", owner: "tester" },
    nats: { servers: [server.url] },
    roles: {
      pragmatist: {
        model: CHAT_MODEL,
        max_tokens: 24,
        first_token_timeout_ms: PATIENT.firstTokenTimeoutMs,
        cache: { semantic: { embed_model: EMBED_MODEL, threshold: 0.9, embed_timeout_ms: 120_000 }, ttl_s: 600 },
      },
    },
    hosts: { local: { ollama_url: ollama.url, roles: ["pragmatist"], preload: false } },
  });
  mesh = await connectMesh({ servers: server.url });
  host = await startAgentHost({
    config: parseMeshConfig(yaml, { source: "real cache test", env: {} }),
    host: "local",
    mesh,
    log: silentLogger,
    metricsPort: null,
    healthIntervalMs: 600_000,
    heartbeatIntervalS: 0,
  });
  client = createRoleClient(mesh, { ackWindowMs: 10_000, timeoutMs: 300_000 });
}, 120_000);

afterAll(async () => {
  await client?.close();
  await host?.close();
  await mesh?.close();
  await ollama?.close();
  await server?.[Symbol.asyncDispose]();
});

/** Tokens the model generated for the role so far (a hit generates none: onFinal is the model's). */
const generated = async () => (await host.metrics.tokens.get()).values.find((v) => v.labels.kind === "completion")?.value ?? 0;

async function ask(text: string, user: string): Promise<{ text: string; final: FinalInfo; streamed: boolean }> {
  const req: RoleRequest = { messages: [{ role: "user", content: text }], user };
  let out = "";
  let final: FinalInfo | undefined;
  let streamed = false;
  for await (const c of client.stream("pragmatist", req)) {
    if (c.type === "response") out += responseText(c);
    if (c.type === "final") {
      streamed = out.length > 0;
      final = c.data;
    }
  }
  return { text: out, final: final!, streamed };
}

describe("the response cache on the real model", () => {
  it("a repeated prompt hits exactly, a paraphrase semantically; another user and another question miss", async () => {
    const first = await ask("How do I keep basil alive?", "alice");
    expect(first.text.trim()).not.toBe("");
    expect(first.final).toMatchObject({ cache: "miss", backend: "ollama", model: CHAT_MODEL });
    const tokens = await generated();
    expect(tokens).toBeGreaterThan(0);

    const again = await ask("How do I keep basil alive?", "alice");
    expect(again).toMatchObject({ text: first.text, streamed: true, final: { cache: "exact", usage: { completion_tokens: 0 } } });

    const para = await ask("How can I keep my basil plant alive?", "alice");
    expect(para.text).toBe(first.text);
    expect(para.final.cache).toBe("semantic");
    expect(para.final.cache_similarity).toBeGreaterThanOrEqual(0.9);
    // The hits made the model generate nothing.
    expect(await generated()).toBe(tokens);

    const bob = await ask("How can I keep my basil plant alive?", "bob");
    expect(bob.final.cache).toBe("miss");
    const mint = await ask("How do I keep mint alive?", "alice");
    expect(mint.final.cache).toBe("miss");
  }, 600_000);
});
