/**
 * The router's classifier on real Ollama with the real embedding model and the example config's
 * examples: a message like the examples is routed by the classifier alone (the LLM router's
 * backend gets no request), an unclear one goes to the LLM router, and a chat model named as the
 * embedding model leaves the LLM router in charge with a message that says what to change.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMeshConfig, RouterChoice, RouterClassifierConfig, type Chunk } from "../../schemas/index.ts";
import { silentLogger } from "../../mesh/index.ts";
import { roleContext } from "../harness/role-context.ts";
import { hostRouterClassifier } from "../../agents/host/classifier.ts";
import { roleHandler } from "../../agents/host/handler.ts";
import { createScriptedBackend } from "../../agents/backends/scripted.ts";
import { CHAT_MODEL, EMBED_MODEL, startOllama, type RealOllama } from "../harness/real.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

let ollama: RealOllama;
beforeAll(async () => {
  ollama = await startOllama();
});
afterAll(async () => {
  await ollama?.close();
});

const ctx = () => roleContext();

/** The example config's router, its classifier on the real embedding model at `threshold`, in front of a scripted LLM router. */
async function router(overrides: Partial<RouterClassifierConfig>) {
  const cfg = await loadMeshConfig(join(ROOT, "config/mesh.example.yaml"), {});
  const config = RouterClassifierConfig.parse({ ...cfg.roles.router!.classifier!, embed_timeout_ms: 120_000, ...overrides });
  const backend = createScriptedBackend([{ json: { specialist: "pragmatist", confidence: 0.5, reason: "scripted LLM router" } }]);
  const specialists = Object.keys(config.examples).map((name) => ({ name }));
  const handler = roleHandler({
    role: "router",
    host: "local",
    config: { ...cfg.roles.router!, backend: "scripted", classifier: config },
    backend,
    specialists,
    defaultSpecialist: "pragmatist",
    classifier: hostRouterClassifier("router", config, ollama.url, silentLogger),
  });
  const ask = async (text: string) => {
    const chunks: Chunk[] = [];
    for await (const c of handler({ messages: [{ role: "user", content: text }] }, ctx())) chunks.push(c);
    const answer = chunks.flatMap((c) => (c.type === "response" ? [c.data as string] : [])).join("");
    const final = chunks.find((c) => c.type === "final");
    return { choice: RouterChoice.parse(JSON.parse(answer)), backend: final?.type === "final" ? final.data.backend : undefined };
  };
  return { ask, llmCalls: () => backend.requests.length };
}

describe("the router's classifier on real embeddings", () => {
  it("decides a message like its examples alone and hands an unclear one to the LLM router", async () => {
    // A high threshold: only a clear match decides alone.
    const r = await router({ embed_model: EMBED_MODEL, threshold: 0.9 });
    const poem = await r.ask("Write a short poem about the sea at night.");
    expect(poem.choice).toMatchObject({ specialist: "artist", decided_by: "classifier" });
    expect(poem.choice.confidence).toBeGreaterThanOrEqual(0.9);
    expect(poem.backend).toBe("classifier");
    const why = await r.ask("Is it ever right to lie to protect someone?");
    expect(why.choice).toMatchObject({ specialist: "philosopher", decided_by: "classifier" });
    expect(r.llmCalls()).toBe(0);

    const hello = await r.ask("hello");
    expect(hello.choice).toMatchObject({ decided_by: "llm", reason: "scripted LLM router" });
    expect(hello.choice.classifier_confidence).toBeLessThan(0.9);
    expect(hello.backend).toBe("scripted");
    expect(r.llmCalls()).toBe(1);
  }, 300_000);

  it("a chat model as embed_model: the LLM router decides, and the log says what to set", async () => {
    const warnings: unknown[] = [];
    const log = Object.assign(Object.create(silentLogger) as typeof silentLogger, { warn: (o: unknown) => warnings.push(o) });
    const config = RouterClassifierConfig.parse({ embed_model: CHAT_MODEL, threshold: 0.5, examples: { a: ["x"], b: ["y"] } });
    const c = hostRouterClassifier("router", config, ollama.url, log);
    const v = await c.classify("hello");
    expect("reason" in v ? v.reason : "a classification").toMatch(
      /is not an embedding model .*set roles\.router\.classifier\.embed_model to one such as all-minilm/,
    );
    expect(warnings).toHaveLength(1);
  }, 120_000);
});
