/**
 * The response cache in front of a real model: real Ollama (the real-model section's one-thread
 * derivation of the small chat model, and all-minilm for the semantic cache) behind an agent host
 * whose specialist caches exact and semantic answers in a real nats-server's KV bucket. A set of
 * prompts is asked three times by one user (the first pass misses: the baseline, measured in the
 * same run; the next two are exact hits), then once as paraphrases (semantic hits), then as
 * questions that only look alike ("mint" for "basil": they must miss). Time to the final chunk per
 * call, and the hit rate of the whole sequence.
 */
import { rmSync } from "node:fs";
import { connectMesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createRoleClient } from "../../mesh/rolecall/index.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import { responseText, type FinalInfo } from "../../schemas/index.ts";
import { startAgentHost } from "../../agents/host/host.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { EMBED_MODEL, startOllama } from "../harness/real.ts";
import { deriveModel, MODEL, privateStore } from "./real-model.ts";
import type { BenchContext, SectionResult, Target } from "./report.ts";
import { fmt, rounded, summarize } from "./stats.ts";

const MAX_TOKENS = 32;
const THRESHOLD = 0.9;
/** Each prompt, a paraphrase (all-minilm similarity above 0.9 here) and a look-alike that asks something else. */
const PROMPTS: readonly (readonly [prompt: string, paraphrase: string, other: string])[] = [
  ["How do I keep basil alive?", "How can I keep my basil plant alive?", "How do I keep mint alive?"],
  ["What is the capital of France?", "Which city is the capital of France?", "What is the capital of Spain?"],
  ["Write a haiku about the sea", "Write a short haiku about the ocean", "Write a haiku about the mountains"],
  ["How do I boil an egg?", "How should I boil an egg?", "How do I fry an egg?"],
  ["Name one colour.", "Name a colour.", "Name one animal."],
  ["What is a good name for a cat?", "What's a good name for a cat?", "What is a good name for a boat?"],
];

function yaml(natsUrl: string, ollamaUrl: string): string {
  return `
mesh: { name: bench, owner: bench }
nats: { servers: ["${natsUrl}"] }
roles:
  pragmatist:
    model: "${MODEL}"
    temperature: 0
    max_tokens: ${MAX_TOKENS}
    keep_alive: 10m
    first_token_timeout_ms: 120000
    cache: { semantic: { embed_model: ${EMBED_MODEL}, threshold: ${THRESHOLD}, embed_timeout_ms: 60000 }, ttl_s: 600 }
hosts:
  local: { ollama_url: "${ollamaUrl}", roles: [pragmatist], preload: true }
`;
}

type Outcome = NonNullable<FinalInfo["cache"]>;
interface Call {
  phase: string;
  cache: Outcome;
  ms: number;
}

export async function cacheSection(ctx: BenchContext): Promise<SectionResult> {
  const set = ctx.quick ? PROMPTS.slice(0, 3) : PROMPTS;
  ctx.progress(`cache: starting ollama serve (${MODEL}, ${EMBED_MODEL}) and nats-server`);
  const store = privateStore();
  await using _store = { [Symbol.asyncDispose]: async () => rmSync(store, { recursive: true, force: true }) };
  await using ollama = await startOllama({ parallel: 1, env: { OLLAMA_MODELS: store } });
  await deriveModel(ollama.url);
  await using server = await startNatsServer();
  await using agentMesh = await connectMesh({ servers: server.url, name: "bench-cache-agent" });
  await using caller = await connectMesh({ servers: server.url, name: "bench-cache-caller" });
  const config = parseMeshConfig(yaml(server.url, ollama.url), { source: "cache bench", env: {} });
  await using _host = await startAgentHost({
    config,
    host: "local",
    mesh: agentMesh,
    log: silentLogger,
    metricsPort: null,
    heartbeatIntervalS: 0,
  });
  await using client = createRoleClient(caller);

  const ask = async (phase: string, text: string, user = "bench-user"): Promise<Call> => {
    const t0 = performance.now();
    let final: FinalInfo | undefined;
    let answer = "";
    for await (const c of client.stream("pragmatist", { messages: [{ role: "user", content: text }], user }, { timeoutMs: 180_000 })) {
      if (c.type === "response") answer += responseText(c);
      if (c.type === "final") final = c.data;
    }
    if (!answer || !final?.cache) throw new Error(`cache bench: '${text}' got no answer or no cache outcome`);
    return { phase, cache: final.cache, ms: performance.now() - t0 };
  };

  // Warm-up as another user (its entries are not this user's): the model and the embedder loaded.
  ctx.progress("cache: warm-up");
  await ask("warm-up", "Say hello.", "bench-warm-up");
  await ask("warm-up", "Say hello.", "bench-warm-up");
  const calls: Call[] = [];
  await ctx.measure("cache", async () => {
    for (let pass = 1; pass <= 3; pass++) {
      ctx.progress(`cache: pass ${pass} of 3 over ${set.length} prompts`);
      for (const [p] of set) calls.push(await ask(`pass ${pass}`, p));
    }
    ctx.progress("cache: paraphrases, then look-alikes");
    for (const [, para] of set) calls.push(await ask("paraphrase", para));
    for (const [, , other] of set) calls.push(await ask("look-alike", other));
  });

  const of = (f: (c: Call) => boolean) => calls.filter(f);
  const hits = (cs: Call[]) => cs.filter((c) => c.cache === "exact" || c.cache === "semantic");
  const miss = summarize(of((c) => c.cache === "miss" && c.phase !== "look-alike").map((c) => c.ms));
  const exact = summarize(of((c) => c.cache === "exact").map((c) => c.ms));
  const semantic = summarize(of((c) => c.cache === "semantic").map((c) => c.ms));
  const repeats = of((c) => c.phase === "pass 2" || c.phase === "pass 3");
  const paraphrases = of((c) => c.phase === "paraphrase");
  const lookAlikes = of((c) => c.phase === "look-alike");
  const falseHits = hits(lookAlikes).length;
  const sequence = of((c) => c.phase !== "look-alike");
  const hitRate = hits(sequence).length / sequence.length;

  const rows = [["calls", "N", "p50 ms", "p95 ms", "max ms"]];
  const row = (label: string, s: ReturnType<typeof summarize>) => rows.push([label, String(s.n), fmt(s.p50), fmt(s.p95), fmt(s.max)]);
  row("miss: the model answers (baseline)", miss);
  row("exact hit", exact);
  row("semantic hit (embedding + lookup)", semantic);
  rows.push(
    ["hit rate, 3 passes + paraphrases", `${hits(sequence).length} of ${sequence.length}`, fmt(hitRate * 100, "%"), "", ""],
    ["look-alike questions answered from the cache", `${falseHits} of ${lookAlikes.length}`, "", "", ""],
  );
  const targets: Target[] = [
    {
      name: "cache: exact hit p50",
      goal: `≤ 1/10 of miss p50 (${fmt(miss.p50 / 10, "ms")})`,
      figure: fmt(exact.p50, "ms"),
      met: exact.n > 0 && exact.p50 <= miss.p50 / 10,
    },
    {
      name: "cache: semantic hit p50",
      goal: `≤ 1/10 of miss p50 (${fmt(miss.p50 / 10, "ms")})`,
      figure: fmt(semantic.p50, "ms"),
      met: semantic.n > 0 && semantic.p50 <= miss.p50 / 10,
    },
    {
      name: "cache: repeats and paraphrases answered from the cache",
      goal: "every repeat, ≥ 80 % of paraphrases, no look-alike",
      figure:
        `${hits(repeats).length}/${repeats.length} repeats, ` +
        `${hits(paraphrases).length}/${paraphrases.length} paraphrases, ${falseHits} look-alikes`,
      met: hits(repeats).length === repeats.length && hits(paraphrases).length >= 0.8 * paraphrases.length && falseHits === 0,
    },
  ];
  return {
    name: "cache",
    title: `Response cache: ${MODEL} on real Ollama, ${set.length} prompts × 3 passes, paraphrases, look-alikes (one call at a time)`,
    table: rows,
    notes: [
      `max_tokens ${MAX_TOKENS}, temperature 0; semantic threshold ${THRESHOLD} (${EMBED_MODEL}); ` +
        "time is the caller's, to the final chunk.",
      "A hit streams the cached text as one response chunk: its time is the KV lookup (and for a semantic one the embedding).",
    ],
    json: {
      miss: rounded(miss),
      exact: rounded(exact),
      semantic: rounded(semantic),
      hit_rate: Math.round(hitRate * 1000) / 1000,
      false_hits: falseHits,
      calls: calls.map((c) => ({ ...c, ms: Math.round(c.ms) })),
    },
    targets,
  };
}
