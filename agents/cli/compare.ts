/**
 * `lyra compare`'s report: a role's variants side by side from the conversation log (time to
 * first token, total time, answer length, error and fallback rates), and pairs of answers to the
 * same prompts, the primary's and a shadow's.
 */
import type { LogEvent } from "../../schemas/index.ts";

interface VariantStats {
  variant: string;
  shadow: boolean;
  calls: number;
  errors: number;
  fallbacks: number;
  firstToken: number[];
  total: number[];
  chars: number[];
}

type Shadow = Extract<LogEvent, { type: "shadow_answer" }>;

/** What a step event of a role with variants carries (StepMeta). */
interface Meta {
  role?: string;
  variant?: string;
  latency_ms?: number;
  first_token_ms?: number;
  fallback?: string;
  text?: string;
  segments?: number;
}

/** Longest answer text a pair shows; `lyra log --json` has all of it. */
const PAIR_CHARS = 300;

/** The per-variant figures of `role` in `events`. */
export function variantStats(role: string, events: readonly LogEvent[]): VariantStats[] {
  const by = new Map<string, VariantStats>();
  const stats = (variant: string, shadow: boolean) => {
    const key = `${shadow ? "s" : "a"}:${variant}`;
    let s = by.get(key);
    if (!s) by.set(key, (s = { variant, shadow, calls: 0, errors: 0, fallbacks: 0, firstToken: [], total: [], chars: [] }));
    return s;
  };
  // The conductor's fallback (fallback_used) counts against the variant of the role's step in that turn.
  const fellBack = new Set(events.filter((e) => e.type === "fallback_used" && e.role === role).map((e) => e.turn));
  for (const e of events) {
    const m = e as Meta;
    if (e.type === "shadow_answer") {
      if (e.role !== role) continue;
      const s = stats(e.variant, true);
      s.calls++;
      if (e.error !== undefined) s.errors++;
      else add(s, m, e.text.length);
      if (e.fallback) s.fallbacks++;
      continue;
    }
    if (m.role !== role || !m.variant) continue;
    const s = stats(m.variant, false);
    s.calls++;
    if (e.type === "error") {
      s.errors++;
      continue;
    }
    // A pipelined voice's reply joins its pieces, which are counted one by one.
    if (e.type === "voice_reply" && m.segments) {
      s.calls--;
      continue;
    }
    add(s, m, e.type === "routed" ? e.specialist.length : (m.text?.length ?? 0));
    if (m.fallback || fellBack.has(e.turn)) s.fallbacks++;
  }
  return [...by.values()].sort((a, b) => Number(a.shadow) - Number(b.shadow) || a.variant.localeCompare(b.variant));
}

function add(s: VariantStats, m: Meta, chars: number): void {
  if (m.first_token_ms !== undefined) s.firstToken.push(m.first_token_ms);
  if (m.latency_ms !== undefined) s.total.push(m.latency_ms);
  s.chars.push(chars);
}

/** The q-quantile (0..1) of xs, nearest rank; undefined when empty. */
function quantile(xs: readonly number[], q: number): number | undefined {
  if (!xs.length) return undefined;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const ms = (x: number | undefined) => (x === undefined ? "-" : `${Math.round(x)} ms`);
const pct = (n: number, of: number) => (of ? `${((100 * n) / of).toFixed(1)} %` : "-");
const mean = (xs: readonly number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : undefined);
const clip = (s: string) => {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > PAIR_CHARS ? `${flat.slice(0, PAIR_CHARS)}…` : flat;
};

/** The table of figures, one row per variant. */
export function statsTable(rows: readonly VariantStats[]): string {
  const head = ["VARIANT", "KIND", "CALLS", "TTFT p50", "TOTAL p50", "TOTAL p95", "CHARS avg", "ERRORS", "FALLBACKS"];
  const body = rows.map((r) => [
    r.variant,
    r.shadow ? "shadow" : "answers",
    String(r.calls),
    ms(quantile(r.firstToken, 0.5)),
    ms(quantile(r.total, 0.5)),
    ms(quantile(r.total, 0.95)),
    String(mean(r.chars) ?? "-"),
    pct(r.errors, r.calls),
    pct(r.fallbacks, r.calls),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(head), ...body.map(line)].join("\n");
}

/** The last `n` pairs of answers to one prompt: the user's message, the primary's answer and the shadow's. */
export function answerPairs(role: string, events: readonly LogEvent[], n: number): string {
  const prompts = new Map(events.filter((e) => e.type === "user_message").map((e) => [e.turn, e.text] as const));
  const shadows = events.filter((e): e is Shadow => e.type === "shadow_answer" && e.role === role && e.primary !== undefined);
  return shadows
    .slice(-n)
    .map((s) => {
      const p = s.primary!;
      const when = new Date(s.ts).toISOString().slice(0, 19).replace("T", " ");
      const primary = p.error !== undefined ? `ERROR ${p.error}` : clip(p.text);
      const shadow = s.error !== undefined ? `ERROR ${s.error}` : clip(s.text);
      return [
        `[${when} · ${s.conversation} · turn ${s.turn} · ${s.step}]`,
        `  prompt: ${clip(prompts.get(s.turn) ?? "(not in the window)")}`,
        `  ${p.variant ?? "primary"} (primary, ${ms(p.latency_ms)}): ${primary}`,
        `  ${s.variant} (shadow, ${ms((s as Meta).latency_ms)}): ${shadow}`,
      ].join("\n");
    })
    .join("\n\n");
}

/** The whole report. */
export function compareReport(role: string, events: readonly LogEvent[], o: { since: string; pairs: number }): string {
  const rows = variantStats(role, events);
  if (!rows.length)
    return `no calls of role '${role}' with a variant in the log since ${o.since}; does roles.${role}.variants exist, and did turns run?`;
  const pairs = answerPairs(role, events, o.pairs);
  return [
    `role '${role}' since ${o.since} (times on the agent; CHARS: answer length)`,
    "",
    statsTable(rows),
    ...(pairs ? ["", `Answers to the same prompts, primary and shadow (last ${o.pairs}):`, "", pairs] : []),
  ].join("\n");
}
