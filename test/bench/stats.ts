/** Percentiles and formatting for the benchmark's figures (all times in milliseconds). */

export interface Summary {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The q-quantile (0..1) of sorted samples, interpolated linearly between closest ranks. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    mean: s.length ? sum / s.length : Number.NaN,
    p50: quantile(s, 0.5),
    p95: quantile(s, 0.95),
    p99: quantile(s, 0.99),
    max: s.at(-1) ?? Number.NaN,
  };
}

/** Rounds every number of a summary (for the JSON file): 3 decimals under 10, else 2. */
export function rounded<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = typeof v === "number" ? round(v) : v;
  return out as T;
}

export function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  return Math.abs(v) < 10 ? Math.round(v * 1000) / 1000 : Math.round(v * 100) / 100;
}

/** A number for the table: 3 significant-ish decimals for small values, thousands grouped for big. */
export function fmt(v: number | undefined, unit = ""): string {
  if (v === undefined || !Number.isFinite(v)) return "—";
  let s: string;
  if (Math.abs(Math.round(v)) >= 1000) s = String(Math.round(v)).replace(/\B(?=(\d{3})+$)/g, ",");
  else if (Math.abs(v) >= 100) s = v.toFixed(0);
  else if (Math.abs(v) >= 10) s = v.toFixed(1);
  else s = v.toFixed(Math.abs(v) >= 1 ? 2 : 3);
  return unit ? `${s} ${unit}` : s;
}

/** Renders rows as an aligned text table; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const [head, ...body] = rows;
  if (!head) return "";
  // Columns of figures are right-aligned, columns of words left-aligned.
  const numeric = head.map((_, i) => i > 0 && body.every((r) => /^[-+\d.,—×% ]*$/.test(r[i] ?? "")));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/**
 * Runs `fn` `total` times from `concurrency` workers at once, each sequentially; returns each
 * call's latency in ms.
 */
export async function timeConcurrent(total: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < total; i = next++) {
      const t0 = performance.now();
      await fn(i);
      samples.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return samples;
}
