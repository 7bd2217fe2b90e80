/**
 * Usage and cost from the conversation log: which log events are model calls, what they cost from
 * a price table, and their totals by user, role, model, backend or conversation (`lyra usage`, the
 * conductor's budgets). Prices are USD per million tokens; a model without a price has no cost
 * (unknown, never 0).
 */
import type { LogEvent } from "../schemas/index.ts";

/** USD per million tokens, prompt (input) and completion (output). */
export interface Price {
  input: number;
  output: number;
}
export type PriceTable = Readonly<Record<string, Price>>;

/** One model call as the log recorded it. */
export interface UsageRecord {
  ts: number;
  conversation: string;
  user: string;
  role: string;
  model: string;
  backend: string;
  tokensIn: number;
  tokensOut: number;
}

/** What `lyra usage` groups by. */
export const UsageBy = { User: "user", Role: "role", Model: "model", Backend: "backend", Conversation: "conversation" } as const;
export type UsageBy = (typeof UsageBy)[keyof typeof UsageBy];

/** The cost of a call in USD; undefined when the model has no price. */
export function costOf(prices: PriceTable, model: string, tokensIn: number, tokensOut: number): number | undefined {
  const p = Object.hasOwn(prices, model) ? prices[model] : undefined;
  return p ? (tokensIn * p.input + tokensOut * p.output) / 1e6 : undefined;
}

type Meta = { user?: string; role?: string; model?: string; backend?: string; tokens?: number; tokens_in?: number; tokens_out?: number };

/**
 * The model call a log event records, if it records one: routed, specialist_finished,
 * voice_segment, a voice_reply of one call (a pipelined one sums its segments, counted already)
 * and usage (a direct call). `turnUser` is the user of the turn's user_message, for events
 * written before steps carried the user. Older events have only `tokens` (completion tokens).
 */
export function usageRecord(e: LogEvent, turnUser?: string): UsageRecord | undefined {
  let role: string | undefined;
  switch (e.type) {
    case "routed":
      role = "router";
      break;
    case "specialist_finished":
      role = e.specialist;
      break;
    case "voice_segment":
      role = "voice";
      break;
    case "voice_reply":
      if (e.segments !== undefined) return undefined;
      role = "voice";
      break;
    case "usage":
      role = "unknown";
      break;
    default:
      return undefined;
  }
  const m = e as Meta;
  if (m.backend === undefined || m.backend.startsWith("none")) return undefined; // the step made no call
  return {
    ts: e.ts,
    conversation: e.conversation,
    user: m.user ?? turnUser ?? "unknown",
    role: m.role ?? role,
    model: m.model ?? "unknown",
    backend: m.backend,
    tokensIn: m.tokens_in ?? 0,
    tokensOut: m.tokens_out ?? m.tokens ?? 0,
  };
}

/** One row of a usage summary; `costUsd` undefined when no call of the row had a price. */
export interface UsageRow {
  key: string;
  calls: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number | undefined;
  /** Tokens of calls whose model has no price (not in costUsd). */
  unpricedTokens: number;
}

/** The records' totals grouped by `by`, largest first (by tokens). */
export function summarizeUsage(records: Iterable<UsageRecord>, by: UsageBy, prices: PriceTable): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  for (const r of records) {
    const key = r[by];
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { key, calls: 0, tokensIn: 0, tokensOut: 0, costUsd: undefined, unpricedTokens: 0 }));
    row.calls++;
    row.tokensIn += r.tokensIn;
    row.tokensOut += r.tokensOut;
    const cost = costOf(prices, r.model, r.tokensIn, r.tokensOut);
    if (cost === undefined) row.unpricedTokens += r.tokensIn + r.tokensOut;
    else row.costUsd = (row.costUsd ?? 0) + cost;
  }
  return [...rows.values()].sort((a, b) => b.tokensIn + b.tokensOut - (a.tokensIn + a.tokensOut) || a.key.localeCompare(b.key));
}

/** The UTC day of `ts`, "YYYY-MM-DD" (budgets are per UTC day). */
export function utcDay(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/** Epoch ms of the next UTC midnight after `ts`: when a daily budget resets. */
export function nextUtcMidnight(ts: number): number {
  const d = new Date(ts);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}
