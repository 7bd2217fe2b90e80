/**
 * The memory tool server's store (tools/builtin/memory): hybrid search (FTS5 BM25 + vectors, fused)
 * p50/p99 for one user holding 10,000 and 100,000 entries, and the rate of single committed writes.
 * Embeddings are made here (768 dimensions, as nomic-embed-text's) so the figures are the store's
 * own: a real search also waits for Ollama to embed the query.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openMemoryStore, type MemoryStore } from "../../tools/builtin/memory/index.ts";
import type { BenchContext, SectionResult, Target } from "./report.ts";
import { fmt, rounded, summarize, type Summary } from "./stats.ts";

const DIMS = 768;
const VOCABULARY = 20_000;
const WORDS_PER_ENTRY = 14;
const TARGET_P50_MS = 20;

// A deterministic corpus: Zipf-ish word choice, so some words are common and most are rare.
let seed = 42;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const word = () => `w${Math.floor(VOCABULARY ** rand())}`;
const sentence = () => Array.from({ length: WORDS_PER_ENTRY }, word).join(" ");

function embed(text: string): Float32Array {
  const v = new Float32Array(DIMS);
  for (const w of text.split(" ")) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    const i = (h >>> 0) % DIMS;
    v[i] = v[i]! + (h & 0x100 ? 1 : -1);
  }
  return v;
}

const entry = () => {
  const text = sentence();
  return { user: "bench", conversation: `c${Math.floor(rand() * 100)}`, text, significance: rand(), vector: embed(text) };
};

async function fill(store: MemoryStore, upTo: number, ctx: BenchContext): Promise<void> {
  for (let n = store.count("bench"); n < upTo; n = store.count("bench")) {
    store.addMany(Array.from({ length: Math.min(2_000, upTo - n) }, entry));
    if (n % 20_000 < 2_000) ctx.progress(`memory-search: ${n.toLocaleString("en")} entries`);
    await new Promise((r) => setImmediate(r));
  }
}

function searchTimes(store: MemoryStore, queries: number): Summary {
  const ms: number[] = [];
  for (let i = 0; i < queries; i++) {
    const text = Array.from({ length: 4 }, word).join(" ");
    const vector = embed(text);
    const t0 = performance.now();
    store.search({ user: "bench", text, vector, limit: 5 });
    ms.push(performance.now() - t0);
  }
  return summarize(ms);
}

export async function memorySearch(ctx: BenchContext): Promise<SectionResult> {
  const sizes = ctx.quick ? [10_000] : [10_000, 100_000];
  const singles = ctx.quick ? 300 : 1_000;
  const queries = ctx.quick ? 100 : 300;
  const dir = mkdtempSync(join(tmpdir(), "lyra-bench-memory-"));
  const path = join(dir, "memory.db");
  let store = openMemoryStore(path);
  try {
    // Single writes, each its own committed transaction (as commit_journal does).
    const t0 = performance.now();
    await ctx.measure("memory-search writes", async () => {
      for (let i = 0; i < singles; i++) store.add(entry());
    });
    const writesPerS = singles / ((performance.now() - t0) / 1000);

    const bySize: { size: number; coldMs: number; stats: Summary }[] = [];
    for (const size of sizes) {
      await fill(store, size, ctx);
      // A fresh store: the first search loads the user's sketches (as after a restart).
      store.close();
      store = openMemoryStore(path);
      const c0 = performance.now();
      store.search({ user: "bench", text: "w1 w2", vector: embed("w1 w2"), limit: 5 });
      const coldMs = performance.now() - c0;
      const s = store;
      const stats = await ctx.measure(`memory-search ${size}`, async () => searchTimes(s, queries));
      bySize.push({ size, coldMs, stats });
    }
    const largest = bySize.at(-1)!;
    // A quick run stops at 10,000: the 100,000 target is only judged by a full run.
    const targets: Target[] = ctx.quick
      ? []
      : [
          {
            name: `memory search p50 at ${largest.size.toLocaleString("en")} entries`,
            goal: `≤ ${TARGET_P50_MS} ms at 100,000`,
            figure: fmt(largest.stats.p50, "ms"),
            met: largest.stats.p50 <= TARGET_P50_MS && largest.size >= 100_000,
          },
        ];
    return {
      name: "memory-search",
      title: "7. Memory search (hybrid BM25 + vector, one user, ms)",
      table: [
        ["entries", "p50", "p99", "max", "first search (loads the index)"],
        ...bySize.map((s) => [s.size.toLocaleString("en"), fmt(s.stats.p50), fmt(s.stats.p99), fmt(s.stats.max), fmt(s.coldMs)]),
      ],
      notes: [
        `writes: ${fmt(writesPerS)} entries/s, each its own committed transaction (WAL, synchronous=NORMAL), ${DIMS}-dimension vectors`,
        `${queries} queries of 4 words per size, top 5; embeddings made in process (a real call adds Ollama's /api/embed time)`,
        ...(ctx.quick ? ["quick run: 10,000 entries only; the target (p50 ≤ 20 ms at 100,000) is judged by a full run"] : []),
      ],
      json: {
        writes_per_s: Math.round(writesPerS),
        dims: DIMS,
        queries,
        sizes: bySize.map((s) => ({ entries: s.size, first_search_ms: Math.round(s.coldMs), ...rounded(s.stats) })),
      },
      targets,
    };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
