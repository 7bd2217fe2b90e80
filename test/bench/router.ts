/**
 * The router on real models over the labelled set (test/fixtures/router-set.json, kept apart from
 * the classifier's examples in config/mesh.example.yaml): accuracy and latency of
 *   classifier — the embedding classifier alone (all-minilm in real Ollama; the examples embedded first);
 *   LLM router — the router handler on the small chat model alone (one thread, temperature 0, bounded reply);
 *   chain      — the router handler with the classifier in front: the LLM only when it is unsure.
 * Each is the agent host's router handler (or classifier) called in process: the mesh's cost is
 * the real-model section's subject, not this one's. The LLM router runs within a time budget, on
 * the first messages of a fixed shuffle (every specialist in it); the targets compare the chain
 * with it on those same messages. Then the calibration: share decided alone and its accuracy per threshold.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RouterChoice, RouterClassifierConfig, loadMeshConfig, type RoleConfig } from "../../schemas/index.ts";
import { silentLogger } from "../../mesh/index.ts";
import { roleContext } from "../harness/role-context.ts";
import { createOllamaBackend } from "../../agents/backends/index.ts";
import { hostRouterClassifier, type Classification } from "../../agents/host/classifier.ts";
import { roleHandler } from "../../agents/host/handler.ts";
import { CHAT_MODEL, EMBED_MODEL, startOllama } from "../harness/real.ts";
import { privateStore } from "./real-model.ts";
import type { BenchContext, SectionResult, Target } from "./report.ts";
import { fmt, round, summarize } from "./stats.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The router's JSON choice: about 30 tokens; a cut-off answer falls to the default specialist (wrong unless it is right). */
const ROUTER_MAX_TOKENS = 48;
/** Time the LLM router alone may take, s (full run; --quick: a third). */
const LLM_BUDGET_S = 80;
const MODEL = "lyra-bench-router:1t";
const THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9];

interface Labelled {
  text: string;
  specialist: string;
}
interface Routed {
  ok: boolean;
  ms: number;
  by?: string;
}

const ctx = () => roleContext({ requestId: "bench" });

/** A fixed shuffle (stride 37 over 64 and the like), so any prefix holds every specialist. */
function shuffled<T>(xs: readonly T[]): T[] {
  let stride = 37;
  while (gcd(stride, xs.length) !== 1) stride++;
  return xs.map((_, i) => xs[(i * stride) % xs.length]!);
}
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

const accuracy = (rs: readonly Routed[]) => rs.filter((r) => r.ok).length / Math.max(1, rs.length);
const median = (rs: readonly Routed[]) => summarize(rs.map((r) => r.ms)).p50;

export async function router(bctx: BenchContext): Promise<SectionResult> {
  const file = JSON.parse(readFileSync(join(ROOT, "test/fixtures/router-set.json"), "utf8")) as { messages: Labelled[] };
  const set = shuffled(file.messages);
  const cfg = await loadMeshConfig(join(ROOT, "config/mesh.example.yaml"), {});
  const classifierCfg = RouterClassifierConfig.parse({
    ...cfg.roles.router!.classifier!,
    embed_model: EMBED_MODEL,
    embed_timeout_ms: 120_000,
  });
  const specialists = Object.entries(cfg.roles)
    .filter(([, r]) => r.kind === "specialist")
    .map(([name, r]) => ({ name, description: r.description, vision: r.vision }));

  bctx.progress(`router: starting ollama serve (${CHAT_MODEL}, ${EMBED_MODEL})`);
  const store = privateStore();
  await using _store = { [Symbol.asyncDispose]: async () => rmSync(store, { recursive: true, force: true }) };
  await using ollama = await startOllama({ parallel: 1, env: { OLLAMA_MODELS: store, OLLAMA_MAX_LOADED_MODELS: "2" } });
  const created = await fetch(`${ollama.url}/api/create`, {
    method: "POST",
    body: JSON.stringify({ model: MODEL, from: CHAT_MODEL, parameters: { num_thread: 1 }, stream: false }),
  });
  if (!created.ok) throw new Error(`Ollama could not derive ${MODEL} from ${CHAT_MODEL}: ${created.status} ${await created.text()}`);

  const classifier = hostRouterClassifier("router", classifierCfg, ollama.url, silentLogger);
  const roleCfg: RoleConfig = { ...cfg.roles.router!, model: MODEL, temperature: 0, max_tokens: ROUTER_MAX_TOKENS, keep_alive: "10m" };
  const backend = createOllamaBackend({ host: ollama.url });
  const handlerOf = (withClassifier: boolean) =>
    roleHandler({
      role: "router",
      host: "bench",
      config: { ...roleCfg, first_token_timeout_ms: 120_000 },
      backend,
      specialists,
      defaultSpecialist: "pragmatist",
      ...(withClassifier ? { classifier } : {}),
    });
  const route = async (h: ReturnType<typeof handlerOf>, m: Labelled): Promise<Routed> => {
    const t0 = performance.now();
    let text = "";
    for await (const c of h({ messages: [{ role: "user", content: m.text }] }, ctx())) {
      const chunk = c;
      if (chunk.type === "response") text += chunk.data as string;
    }
    const choice = RouterChoice.parse(JSON.parse(text));
    return { ok: choice.specialist === m.specialist, ms: performance.now() - t0, by: choice.decided_by };
  };

  bctx.progress("router: warm-up (the examples' embeddings, both models loaded)");
  const warm = await classifier.classify("warm-up");
  if ("reason" in warm) throw new Error(`router bench: the classifier has no embeddings: ${warm.reason}`);
  const llm = handlerOf(false);
  const chain = handlerOf(true);
  await route(llm, set[0]!);

  bctx.progress(`router: the classifier alone over ${set.length} messages`);
  const alone: (Routed & { confidence: number })[] = [];
  await bctx.measure("router-classifier", async () => {
    for (const m of set) {
      const t0 = performance.now();
      const v = (await classifier.classify(m.text)) as Classification;
      alone.push({ ok: v.specialist === m.specialist, ms: performance.now() - t0, confidence: v.confidence });
    }
  });

  const budgetMs = (bctx.quick ? LLM_BUDGET_S / 3 : LLM_BUDGET_S) * 1000;
  bctx.progress(`router: the LLM router alone, up to ${set.length} messages or ${budgetMs / 1000} s`);
  const llmAlone: Routed[] = [];
  const started = performance.now();
  await bctx.measure("router-llm", async () => {
    for (const m of set) {
      if (performance.now() - started > budgetMs) break;
      llmAlone.push(await route(llm, m));
    }
  });

  bctx.progress(`router: the chain over ${set.length} messages`);
  const chained: Routed[] = [];
  await bctx.measure("router-chain", async () => {
    for (const m of set) chained.push(await route(chain, m));
  });

  return report({ set, alone, llmAlone, chained, threshold: classifierCfg.threshold });
}

function report(r: {
  set: Labelled[];
  alone: (Routed & { confidence: number })[];
  llmAlone: Routed[];
  chained: Routed[];
  threshold: number;
}): SectionResult {
  const n = r.set.length;
  const m = r.llmAlone.length;
  const chainSame = r.chained.slice(0, m);
  const byClassifier = r.chained.filter((x) => x.by === "classifier").length;
  const row = (way: string, rs: readonly Routed[]) => [
    way,
    String(rs.length),
    `${fmt(accuracy(rs) * 100)}%`,
    fmt(median(rs)),
    fmt(summarize(rs.map((x) => x.ms)).p95),
  ];
  const rows = [
    ["router", "messages", "accuracy", "p50 ms", "p95 ms"],
    row("classifier alone", r.alone),
    row(`LLM router alone (${CHAT_MODEL})`, r.llmAlone),
    row("chain: classifier, then the LLM when unsure", r.chained),
    row(`chain, on the LLM router's ${m} messages`, chainSame),
  ];
  const calibration = THRESHOLDS.map((t) => {
    const decided = r.alone.filter((x) => x.confidence >= t);
    return { threshold: t, decided: decided.length, accuracy: decided.length ? accuracy(decided) : undefined };
  });
  const ratio = median(chainSame) / median(r.llmAlone);
  const targets: Target[] = [
    {
      name: "Router chain accuracy vs the LLM router (same messages)",
      goal: `≥ the LLM router's (${fmt(accuracy(r.llmAlone) * 100)}%)`,
      figure: `${fmt(accuracy(chainSame) * 100)}%`,
      met: m > 0 && accuracy(chainSame) >= accuracy(r.llmAlone),
    },
    {
      name: "Router chain median latency vs the LLM router",
      goal: `≤ 1/5 of the LLM router's p50 (${fmt(median(r.llmAlone), "ms")})`,
      figure: `${fmt(median(chainSame), "ms")} (${fmt(ratio)} ×)`,
      met: m > 0 && ratio <= 0.2,
    },
  ];
  return {
    name: "router",
    title: `Router over the labelled set (test/fixtures/router-set.json, ${n} messages): classifier (${EMBED_MODEL}), LLM router, chain`,
    table: rows,
    notes: [
      `classifier: the example config's examples (roles.router.classifier), nearest centroid, threshold ${r.threshold}; ` +
        `the chain's classifier decided ${byClassifier} of ${n} alone`,
      `LLM router: ${CHAT_MODEL} on one thread, temperature 0, max_tokens ${ROUTER_MAX_TOKENS}, the example config's specialists ` +
        `and descriptions; ${m} of ${n} messages within its ${LLM_BUDGET_S} s budget (a fixed shuffle: every specialist in them)`,
      "calibration (classifier alone): threshold → decided alone, their accuracy: " +
        calibration
          .map((c) => `${c.threshold} → ${c.decided}/${n}, ${c.accuracy === undefined ? "–" : `${fmt(c.accuracy * 100)}%`}`)
          .join("; "),
      "handlers called in process (no NATS); the machine may be shared: latencies are noisy",
    ],
    json: {
      messages: n,
      llm_messages: m,
      threshold: r.threshold,
      classifier: { accuracy: round(accuracy(r.alone)), p50_ms: round(median(r.alone)) },
      llm: { accuracy: round(accuracy(r.llmAlone)), p50_ms: round(median(r.llmAlone)) },
      chain: { accuracy: round(accuracy(r.chained)), p50_ms: round(median(r.chained)), decided_by_classifier: byClassifier },
      chain_same_messages: { accuracy: round(accuracy(chainSame)), p50_ms: round(median(chainSame)) },
      calibration: calibration.map((c) => ({ ...c, accuracy: c.accuracy === undefined ? null : round(c.accuracy) })),
    },
    targets,
  };
}
