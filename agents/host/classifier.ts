/**
 * The router's fast path (roles.<router>.classifier): labelled example messages per specialist,
 * embedded once by the host's Ollama when the role starts. A message is embedded and scored
 * against each specialist by cosine similarity (to the centroid of its examples, or the mean of
 * its k nearest; all vectors centred on the examples' mean); the confidence is the softmax of those scores at CONFIDENCE_TEMPERATURE, the
 * top specialist's share. The router handler lets it decide alone when the confidence clears the
 * threshold, and asks the LLM router otherwise.
 */
import type { RouterClassifierConfig } from "../../schemas/index.ts";
import type { Logger } from "../../mesh/index.ts";
import { createEmbedder, type Embedder } from "../../tools/caller.ts";

/**
 * Softmax temperature over the (centred) cosine similarities. Chosen on test/fixtures/router-set.json
 * with all-minilm and the example config's examples (the router bench prints share and accuracy
 * per threshold): at 0.05 a confidence of 0.7 kept 63 of 64 messages with all of them right, and
 * greetings ("hello") stayed under 0.5. Lower makes the classifier surer of itself.
 */
export const CONFIDENCE_TEMPERATURE = 0.05;
/** Examples embedded at once while the index is built. */
const EMBED_CONCURRENCY = 4;

/** One specialist's examples (centred unit vectors) and their centroid (unit). */
export interface SpecialistExamples {
  specialist: string;
  vectors: Float32Array[];
  centroid: Float32Array;
}

/** What the classifier keeps: the mean of all examples, taken off every vector, and each specialist's examples. */
export interface ExampleIndex {
  center: Float32Array;
  specialists: SpecialistExamples[];
}

export interface SpecialistScore {
  specialist: string;
  /** Cosine similarity, -1..1. */
  score: number;
}

export interface Classification {
  specialist: string;
  /** 0..1: the softmax share of the best specialist. */
  confidence: number;
  /** Every specialist's score, best first. */
  scores: SpecialistScore[];
}

/** Unit length (a zero vector stays zero), so cosine is a dot product. */
export function unit(v: ArrayLike<number>): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  const k = n > 0 ? 1 / Math.sqrt(n) : 0;
  return Float32Array.from(v, (x) => x * k);
}

function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`embedding sizes differ (${a.length} and ${b.length}); one embedding model for all`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** `v` as the index compares it: unit, less the examples' mean, unit again. */
function centred(v: ArrayLike<number>, center: Float32Array): Float32Array {
  const u = unit(v);
  return unit(u.map((x, i) => x - (center[i] ?? 0)));
}

/**
 * The index over each specialist's example vectors. Every vector is centred on the mean of all
 * examples: sentence embeddings share a large common direction (all-minilm's short texts sit
 * close together whatever they say), and taking it off makes the differences count (on the
 * labelled set: 95% correct without, 100% with).
 */
export function buildIndex(examples: ReadonlyArray<readonly [specialist: string, vectors: readonly ArrayLike<number>[]]>): ExampleIndex {
  const all = examples.flatMap(([, vs]) => vs.map(unit));
  const center = new Float32Array(all[0]?.length ?? 0);
  for (const u of all) for (let i = 0; i < u.length; i++) center[i]! += u[i]! / all.length;
  const specialists = examples.map(([specialist, vs]) => {
    const vectors = vs.map((v) => centred(v, center));
    const sum = new Float32Array(center.length);
    for (const u of vectors) for (let i = 0; i < u.length; i++) sum[i]! += u[i]!;
    return { specialist, vectors, centroid: unit(sum) };
  });
  return { center, specialists };
}

/** Each specialist's similarity to `query`, best first: to its centroid, or (k set) the mean of its k nearest examples. */
export function scoreSpecialists(index: ExampleIndex, query: ArrayLike<number>, k?: number): SpecialistScore[] {
  const q = centred(query, index.center);
  const scores = index.specialists.map((s) => {
    if (k === undefined) return { specialist: s.specialist, score: dot(q, s.centroid) };
    const top = s.vectors
      .map((v) => dot(q, v))
      .sort((a, b) => b - a)
      .slice(0, k);
    return { specialist: s.specialist, score: top.reduce((a, x) => a + x, 0) / top.length };
  });
  return scores.sort((a, b) => b.score - a.score);
}

/** The best specialist's softmax share over the scores (best first), at `temperature`. */
export function confidenceOf(scores: readonly SpecialistScore[], temperature = CONFIDENCE_TEMPERATURE): number {
  if (scores.length === 0) return 0;
  const best = scores[0]!.score;
  // Shifted by the best score: exp never overflows, and the best term is 1.
  const total = scores.reduce((a, s) => a + Math.exp((s.score - best) / temperature), 0);
  return 1 / total;
}

export function classify(index: ExampleIndex, query: ArrayLike<number>, k?: number): Classification {
  const scores = scoreSpecialists(index, query, k);
  return { specialist: scores[0]!.specialist, confidence: confidenceOf(scores), scores };
}

export interface RouterClassifier {
  /** Least confidence at which the classifier decides alone. */
  readonly threshold: number;
  /** The embedding model, as the router's final chunk names it. */
  readonly model: string;
  /** The nearest specialist and the confidence, or why there is none (an embedding failed; the LLM router decides). */
  classify(text: string): Promise<Classification | { reason: string }>;
}

export interface RouterClassifierOptions {
  role: string;
  config: RouterClassifierConfig;
  embedder: Embedder;
  log: Logger;
}

/**
 * Embeds the examples now (the index is ready before the first message in the usual case) and
 * classifies with them. A failed build (the model missing, Ollama down) is retried by the next
 * message; the embedder remembers a failure for a while, so the retry costs no round trip meanwhile.
 */
export function createRouterClassifier(o: RouterClassifierOptions): RouterClassifier {
  const { config } = o;
  let warned: string | undefined;
  const build = async (): Promise<ExampleIndex | { reason: string }> => {
    const t0 = performance.now();
    const embedded: [string, Float32Array[]][] = [];
    for (const [specialist, texts] of Object.entries(config.examples)) {
      const vectors: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += EMBED_CONCURRENCY) {
        const got = await Promise.all(texts.slice(i, i + EMBED_CONCURRENCY).map((t) => o.embedder.embed(t)));
        for (const e of got) {
          if ("reason" in e) {
            // Once per reason: every message retries the build while the embeddings fail.
            if (e.reason !== warned)
              o.log.warn({ role: o.role, reason: e.reason }, "router classifier examples not embedded; the LLM router decides");
            warned = e.reason;
            return { reason: e.reason };
          }
          vectors.push(e.vector);
        }
      }
      embedded.push([specialist, vectors]);
    }
    const examples = embedded.reduce((a, [, vs]) => a + vs.length, 0);
    o.log.info({ role: o.role, examples, ms: Math.round(performance.now() - t0) }, "router classifier ready");
    return buildIndex(embedded);
  };
  let index = build();
  return {
    threshold: config.threshold,
    model: config.embed_model,
    async classify(text) {
      const current = index;
      let built = await current;
      if ("reason" in built) {
        // One rebuild for the messages that found it failed together.
        if (index === current) index = build();
        built = await index;
        if ("reason" in built) return built;
      }
      const q = await o.embedder.embed(text);
      if ("reason" in q) return q;
      return classify(built, q.vector, config.k);
    },
  };
}

/** The classifier of router `role`, embedding with the host's Ollama. */
export function hostRouterClassifier(role: string, config: RouterClassifierConfig, ollamaUrl: string, log: Logger): RouterClassifier {
  const embedder = createEmbedder({
    host: ollamaUrl,
    model: config.embed_model,
    timeoutMs: config.embed_timeout_ms,
    setting: `roles.${role}.classifier.embed_model`,
  });
  return createRouterClassifier({ role, config, embedder, log });
}
