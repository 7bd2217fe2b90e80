/**
 * The router's classifier: scoring (centroid and k nearest), confidence, and the router handler's
 * threshold (the classifier decides alone above it; below it, or without embeddings, the LLM router
 * decides). Embeddings come from a table here (test/real/router-classifier.test.ts uses real Ollama).
 */
import { describe, expect, it } from "vitest";
import { RouterChoice, RouterClassifierConfig, type Chunk, type RoleConfig } from "../../../schemas/index.ts";
import { silentLogger } from "../../../mesh/index.ts";
import { roleContext } from "../../harness/role-context.ts";
import {
  buildIndex,
  classify,
  confidenceOf,
  createRouterClassifier,
  scoreSpecialists,
  type Classification,
  type RouterClassifier,
} from "../../../agents/host/classifier.ts";
import { roleHandler } from "../../../agents/host/handler.ts";
import { createScriptedBackend } from "../../../agents/backends/scripted.ts";
import { formatEvent } from "../../../agents/cli/commands/log.ts";
import type { Embedder, Embedding } from "../../../tools/caller.ts";

/** An embedder over a fixed table; `failFirst` answers that many calls with a failure first. */
function tableEmbedder(table: Record<string, number[]>, failFirst = 0): Embedder & { calls: number } {
  const e = {
    calls: 0,
    async embed(text: string): Promise<Embedding> {
      e.calls++;
      if (e.calls <= failFirst) return { reason: "embedding model 'm' did not answer (down)" };
      const v = table[text];
      return v ? { vector: Float32Array.from(v) } : { reason: `no vector for '${text}'` };
    },
  };
  return e;
}

describe("scoring", () => {
  // Practical examples lean on axis 0, philosophical on axis 1; axis 2 is common to all (centred away).
  const index = buildIndex([
    [
      "pragmatist",
      [
        [1, 0.1, 1],
        [0.9, 0, 1],
        [1, 0.2, 1],
      ],
    ],
    [
      "philosopher",
      [
        [0.1, 1, 1],
        [0, 0.9, 1],
        [0.2, 1, 1],
      ],
    ],
  ]);

  it("nearest centroid: a message near one specialist's examples scores it first", () => {
    const s = scoreSpecialists(index, [0.8, 0.1, 1]);
    expect(s.map((x) => x.specialist)).toEqual(["pragmatist", "philosopher"]);
    expect(s[0]!.score).toBeGreaterThan(0.5);
    expect(s[1]!.score).toBeLessThan(0);
  });

  it("k nearest: one outlying example decides with k = 1 and is outvoted by the centroid", () => {
    // The philosopher has one example out on the pragmatist's side; the query sits on it.
    const spread = buildIndex([
      [
        "pragmatist",
        [
          [1, 0],
          [1, 0.05],
          [1, -0.05],
        ],
      ],
      [
        "philosopher",
        [
          [0, 1],
          [0, 1],
          [-0.2, 1],
          [0.9, 0.45],
        ],
      ],
    ]);
    const q = [0.9, 0.45];
    expect(scoreSpecialists(spread, q, 1)[0]).toMatchObject({ specialist: "philosopher" });
    expect(scoreSpecialists(spread, q, 1)[0]!.score).toBeCloseTo(1, 5);
    expect(scoreSpecialists(spread, q)[0]!.specialist).toBe("pragmatist");
  });

  it("confidence: 1/n for a tie, near 1 for a wide margin, higher for a wider margin or a lower temperature", () => {
    const scores = (a: number, b: number, c = -1) => [
      { specialist: "a", score: a },
      { specialist: "b", score: b },
      { specialist: "c", score: c },
    ];
    expect(confidenceOf(scores(0.3, 0.3, 0.3))).toBeCloseTo(1 / 3, 6);
    expect(confidenceOf(scores(0.9, 0.1))).toBeGreaterThan(0.99);
    expect(confidenceOf(scores(0.5, 0.4))).toBeGreaterThan(confidenceOf(scores(0.5, 0.45)));
    expect(confidenceOf(scores(0.5, 0.45), 0.02)).toBeGreaterThan(confidenceOf(scores(0.5, 0.45), 0.1));
    expect(confidenceOf([])).toBe(0);
    const c = classify(index, [0.8, 0.1, 1]);
    expect(c).toMatchObject({ specialist: "pragmatist" });
    expect(c.confidence).toBeGreaterThan(0.5);
    expect(c.confidence).toBeLessThanOrEqual(1);
  });
});

const CONFIG = RouterClassifierConfig.parse({
  embed_model: "m",
  threshold: 0.7,
  examples: { pragmatist: ["fix it", "set it up"], philosopher: ["why are we here", "what is good"] },
});
const TABLE = {
  "fix it": [1, 0, 1],
  "set it up": [0.9, 0.1, 1],
  "why are we here": [0, 1, 1],
  "what is good": [0.1, 0.9, 1],
  "how do I fix my bike": [0.95, 0.05, 1],
  hello: [0.5, 0.5, 1],
};

describe("createRouterClassifier", () => {
  it("embeds the examples once, then one embedding per message", async () => {
    const embedder = tableEmbedder(TABLE);
    const c = createRouterClassifier({ role: "router", config: CONFIG, embedder, log: silentLogger });
    const v = await c.classify("how do I fix my bike");
    expect(v).toMatchObject({ specialist: "pragmatist" });
    expect((v as Classification).confidence).toBeGreaterThan(0.7);
    await c.classify("hello");
    expect(embedder.calls).toBe(4 + 2);
  });

  it("a failed build is retried by the next message; meanwhile it says why", async () => {
    const embedder = tableEmbedder(TABLE, 1);
    const c = createRouterClassifier({ role: "router", config: CONFIG, embedder, log: silentLogger });
    await expect(c.classify("how do I fix my bike")).resolves.toMatchObject({ specialist: "pragmatist" });
    const down = createRouterClassifier({ role: "router", config: CONFIG, embedder: tableEmbedder({}), log: silentLogger });
    await expect(down.classify("hello")).resolves.toEqual({ reason: "no vector for 'fix it'" });
  });
});

const ROUTER: RoleConfig = {
  model: "llm",
  backend: "scripted",
  kind: "router",
  num_ctx: 4096,
  keep_alive: "30m",
  tool_mode: "auto",
  slots: 1,
  queue: 4,
  tools: [],
  max_tool_steps: 6,
  tool_timeout_ms: 30_000,
  first_token_timeout_ms: 20_000,
  vision: false,
};

const ctx = roleContext({ timeoutMs: 60_000 });

/** A classifier that always answers `v`. */
const fixed = (v: Classification | { reason: string }, threshold = 0.7): RouterClassifier => ({
  threshold,
  model: "all-minilm",
  classify: async () => v,
});
const verdict = (specialist: string, confidence: number): Classification => ({
  specialist,
  confidence,
  scores: [
    { specialist, score: 0.6 },
    { specialist: "pragmatist", score: 0.2 },
  ],
});

async function route(classifier: RouterClassifier | undefined) {
  const backend = createScriptedBackend([{ json: { specialist: "pragmatist", confidence: 0.6, reason: "llm says so" } }]);
  const handler = roleHandler({
    role: "router",
    host: "h1",
    config: ROUTER,
    backend,
    specialists: [{ name: "pragmatist" }, { name: "philosopher" }],
    defaultSpecialist: "pragmatist",
    classifier,
  });
  const chunks: Chunk[] = [];
  for await (const c of handler({ messages: [{ role: "user", content: "why are we here" }] }, ctx)) chunks.push(c);
  const text = chunks.flatMap((c) => (c.type === "response" ? [c.data as string] : [])).join("");
  const final = chunks.find((c) => c.type === "final");
  return {
    choice: RouterChoice.parse(JSON.parse(text)),
    final: final?.type === "final" ? final.data : undefined,
    llmCalls: backend.requests.length,
  };
}

describe("the router handler's threshold", () => {
  it("at or above the threshold the classifier decides alone: no LLM call; the final names the embedding model", async () => {
    const r = await route(fixed(verdict("philosopher", 0.7)));
    expect(r.llmCalls).toBe(0);
    expect(r.choice).toMatchObject({ specialist: "philosopher", confidence: 0.7, decided_by: "classifier", classifier_confidence: 0.7 });
    expect(r.choice.reason).toMatch(/^classifier: nearest to philosopher's examples/);
    expect(r.final).toMatchObject({ backend: "classifier", model: "all-minilm", host: "h1", role: "router" });
  });

  it("below the threshold the LLM router decides, and the answer carries the classifier's confidence", async () => {
    const r = await route(fixed(verdict("philosopher", 0.69)));
    expect(r.llmCalls).toBe(1);
    expect(r.choice).toMatchObject({ specialist: "pragmatist", decided_by: "llm", classifier_confidence: 0.69, reason: "llm says so" });
    expect(r.final).toMatchObject({ backend: "scripted" });
  });

  it("without embeddings (the model missing) the LLM router decides as without a classifier", async () => {
    const r = await route(fixed({ reason: "embedding model 'm' did not answer" }));
    expect(r.llmCalls).toBe(1);
    expect(r.choice.decided_by).toBe("llm");
    expect(r.choice.classifier_confidence).toBeUndefined();
    const plain = await route(undefined);
    expect(plain.choice).toEqual({ specialist: "pragmatist", confidence: 0.6, reason: "llm says so", decided_by: "llm" });
  });
});

describe("lyra log", () => {
  const base = { ts: Date.UTC(2026, 11, 4, 12), conversation: "c", turn: "t", type: "routed" as const, specialist: "philosopher" };
  it("says who decided and how sure", () => {
    expect(formatEvent({ ...base, confidence: 0.82, reason: "r", decided_by: "classifier", classifier_confidence: 0.82 })).toBe(
      "12:00:00.000 routed → philosopher by the classifier, confidence 0.82 (r)",
    );
    expect(formatEvent({ ...base, confidence: 0.9, reason: "r", decided_by: "llm", classifier_confidence: 0.41 })).toBe(
      "12:00:00.000 routed → philosopher by the LLM router, confidence 0.90; classifier 0.41, below its threshold (r)",
    );
    expect(formatEvent({ ...base, confidence: 0, reason: "router unavailable" })).toBe(
      "12:00:00.000 routed → philosopher (0.00: router unavailable)",
    );
  });
});
