/** What every benchmark section hands back to run.ts: its figures, its table and its targets. */

export interface BenchContext {
  /** `--quick`: fewer samples, for a smoke run. */
  quick: boolean;
  /** Progress lines (stderr), so stdout stays the report. */
  progress(line: string): void;
  /**
   * Runs a measured phase. With `--profile DIR` the phase is CPU-profiled in this process
   * (node:inspector) and written to DIR/<label>.cpuprofile; read it with cpuprofile-top.ts.
   */
  measure<T>(label: string, fn: () => Promise<T>): Promise<T>;
}

export interface Target {
  /** What is measured, e.g. "Lyra role call p50, 1 in flight". */
  name: string;
  /** The goal in words, e.g. "≤ 2 × raw p50 (0.62 ms)". */
  goal: string;
  /** The figure in words, e.g. "0.55 ms". */
  figure: string;
  met: boolean;
}

export interface SectionResult {
  /** Key in the JSON file and heading of the table. */
  name: string;
  title: string;
  /** Rows of the section's table; the first is the header. */
  table: string[][];
  /** Lines printed under the table (settings, N, caveats). */
  notes: string[];
  json: Record<string, unknown>;
  targets: Target[];
}

export type Section = (ctx: BenchContext) => Promise<SectionResult>;
