/**
 * Per-user daily budgets: each user's totals for the UTC day live in a JetStream KV bucket, one
 * key per user and day, so every conductor replica reads and adds to the same numbers. A turn's
 * usage is added after the turn by compare-and-set on the key's revision (a replica that lost the
 * race reads again and retries), so concurrent turns of one user on several replicas add up.
 * A message is checked when it enters: over budget, it gets a reply saying so and no model call.
 * Turns already running when the budget runs out finish (the budget can be overshot by them).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Kvm, type KV } from "@nats-io/kv";
import type { Mesh } from "../connect.ts";
import type { Logger } from "../logger.ts";
import { costOf, nextUtcMidnight, utcDay, type PriceTable } from "../usage.ts";

/** The default bucket of the per-day totals. */
export const DEFAULT_BUDGET_BUCKET = "LYRA_USAGE";
/** Keys expire after this (a day's key is read only on that day). */
const KEY_TTL_MS = 3 * 86_400_000;
/** Compare-and-set attempts before an update gives up. */
const MAX_CAS_ATTEMPTS = 20;

/** A user's daily limits: tokens (in and out together) and USD; absent: no limit. */
export interface DailyLimits {
  tokens?: number;
  usd?: number;
}

export interface BudgetOptions {
  /** The user's daily limits (the inbox message's user.id); undefined: no budget. */
  limitsOf(user: string): DailyLimits | undefined;
  /** Prices for the USD limit; tokens of a model without a price cost nothing there. */
  prices: PriceTable;
  /** KV bucket; default LYRA_USAGE. */
  bucket?: string;
  /** The clock (epoch ms); default Date.now. Tests move it to the next day. */
  now?: () => number;
}

/** One user's totals for one day, as stored. */
export interface DayTotals {
  tokens_in: number;
  tokens_out: number;
  usd: number;
  turns: number;
}

/** A model call of a turn, as the budget counts it. */
export interface CallUsage {
  model: string;
  tokensIn: number;
  tokensOut: number;
}

export interface Budgets {
  /** The reply for a user whose budget for today is spent; undefined when the user may go on. */
  check(user: string): Promise<string | undefined>;
  /** Adds a turn's calls to the user's totals for today. */
  add(user: string, calls: readonly CallUsage[]): Promise<void>;
  /** The user's totals for today (zeros when none). */
  today(user: string): Promise<DayTotals>;
}

const ZERO: DayTotals = { tokens_in: 0, tokens_out: 0, usd: 0, turns: 0 };

/** The KV key of a user's day: the day, then the user id in base64url (any id, valid key characters). */
export const budgetKey = (day: string, user: string) => `${day}.${Buffer.from(user).toString("base64url")}`;

export async function openBudgets(mesh: Mesh, o: BudgetOptions): Promise<Budgets> {
  const kv: KV = await new Kvm(mesh.nc).create(o.bucket ?? DEFAULT_BUDGET_BUCKET, { history: 1, ttl: KEY_TTL_MS });
  const now = o.now ?? Date.now;
  const read = async (key: string): Promise<{ totals: DayTotals; revision: number | undefined }> => {
    const e = await kv.get(key);
    if (!e || e.operation !== "PUT") return { totals: ZERO, revision: undefined };
    return { totals: { ...ZERO, ...e.json<Partial<DayTotals>>() }, revision: e.revision };
  };
  const today = async (user: string) => (await read(budgetKey(utcDay(now()), user))).totals;
  return {
    today,
    async check(user) {
      const limits = o.limitsOf(user);
      if (!limits || (limits.tokens === undefined && limits.usd === undefined)) return undefined;
      const t = await today(user);
      const tokens = t.tokens_in + t.tokens_out;
      const spent =
        limits.tokens !== undefined && tokens >= limits.tokens
          ? `${tokens} of ${limits.tokens} tokens`
          : limits.usd !== undefined && t.usd >= limits.usd
            ? `$${t.usd.toFixed(4)} of $${limits.usd}`
            : undefined;
      if (!spent) return undefined;
      const resets = new Date(nextUtcMidnight(now())).toISOString().replace("T", " ").slice(0, 16);
      return `your daily budget is spent (${spent} today); it resets at ${resets} UTC`;
    },
    async add(user, calls) {
      if (!calls.length) return;
      const tokensIn = calls.reduce((n, c) => n + c.tokensIn, 0);
      const tokensOut = calls.reduce((n, c) => n + c.tokensOut, 0);
      const usd = calls.reduce((n, c) => n + (costOf(o.prices, c.model, c.tokensIn, c.tokensOut) ?? 0), 0);
      const key = budgetKey(utcDay(now()), user);
      for (let attempt = 1; ; attempt++) {
        const { totals, revision } = await read(key);
        const next: DayTotals = {
          tokens_in: totals.tokens_in + tokensIn,
          tokens_out: totals.tokens_out + tokensOut,
          usd: totals.usd + usd,
          turns: totals.turns + 1,
        };
        const body = JSON.stringify(next);
        try {
          // create() fails when another replica created the key first; update() when its revision moved on.
          await (revision === undefined ? kv.create(key, body) : kv.update(key, body, revision));
          return;
        } catch (err) {
          if (attempt >= MAX_CAS_ATTEMPTS) throw new Error(`could not update the usage of '${user}' in ${key}`, { cause: err });
          await sleep(Math.random() * 5 * attempt); // jittered: contenders spread out instead of colliding again
        }
      }
    },
  };
}

/**
 * Whether the user may start a turn: the refusal, or undefined. A bucket that cannot be read lets
 * the turn run (said in the log): a KV outage must not silence every user.
 */
export async function budgetRefusal(b: Budgets, user: string, log: Logger): Promise<string | undefined> {
  try {
    return await b.check(user);
  } catch (err) {
    log.warn({ err }, "cannot read the user's usage for today; the turn runs without its budget check");
    return undefined;
  }
}

/** Adds a finished turn's calls to the user's day; a failure is logged (the turn is done). */
export async function addUsage(b: Budgets, user: string, calls: readonly CallUsage[], log: Logger): Promise<void> {
  await b.add(user, calls).catch((err: unknown) => log.warn({ err }, "could not add the turn's usage to the user's day"));
}
