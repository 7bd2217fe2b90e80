import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { LogEvent } from "../../../schemas/index.ts";
import {
  decodeBody,
  StreamName,
  subjects,
  summarizeUsage,
  UsageBy,
  usageRecord,
  type Mesh,
  type UsageRecord,
  type UsageRow,
} from "../../../mesh/index.ts";
import { defineCommand, UsageError } from "../command.ts";
import { configHelp, configOption, loadConfig } from "../config.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";
import { printTable } from "./status.ts";

const BY: readonly string[] = Object.values(UsageBy);
const UNIT_MS: Record<string, number> = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 };

export const usage = defineCommand({
  name: "usage",
  summary: "Tokens and cost from the JetStream log: every committee step and direct call, by user, role, model, backend or conversation.",
  usage: "[--by user|role|model|backend|conversation] [--since DURATION] [--json] [--config FILE]",
  options: {
    ...natsOption,
    ...configOption,
    by: { type: "string", default: "user" },
    since: { type: "string" },
    json: { type: "boolean" },
  },
  help: {
    ...natsHelp,
    config: `${configHelp.config}; its usage.prices price the tokens`,
    by: `what to group by: ${BY.join(", ")}`,
    since: "only calls in the last DURATION, such as 90m, 24h or 7d (default: everything the log keeps)",
    json: 'print JSON: { "by", "since", "rows": [...], "total" }',
  },
  details: "A model without a price in usage.prices shows its cost as unknown; its tokens are listed as UNPRICED.",
  async run(values) {
    const by = values.by as string;
    if (!BY.includes(by)) throw new UsageError(`--by must be one of ${BY.join(", ")}, got '${by}'`);
    const since = values.since === undefined ? undefined : Date.now() - parseSince(values.since as string);
    const prices = (await loadConfig(values)).usage.prices;
    const mesh = await cliConnect(values, "lyra-usage");
    try {
      const rows = summarizeUsage(await readUsage(mesh, since), by as UsageBy, prices);
      const total = totalOf(rows);
      if (values.json) {
        const json = (r: UsageRow) => ({
          key: r.key,
          calls: r.calls,
          tokens_in: r.tokensIn,
          tokens_out: r.tokensOut,
          cost_usd: r.costUsd ?? null,
          unpriced_tokens: r.unpricedTokens,
        });
        const out = { by, since: since === undefined ? null : new Date(since).toISOString(), rows: rows.map(json), total: json(total) };
        process.stdout.write(JSON.stringify(out, null, 2) + "\n");
        return 0;
      }
      if (!rows.length) {
        process.stdout.write(`no model calls in the log${since === undefined ? "" : ` since ${new Date(since).toISOString()}`}\n`);
        return 0;
      }
      printTable([[by.toUpperCase(), "CALLS", "TOKENS IN", "TOKENS OUT", "COST USD", "UNPRICED"], ...[...rows, total].map(cells)]);
      return 0;
    } finally {
      await mesh.close();
    }
  },
});

/** "90m", "24h", "7d", "30s" as ms; anything else is a usage error saying what is expected. */
export function parseSince(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(v);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]!]! : 0;
  if (!m || !(ms > 0)) throw new UsageError(`--since must be a duration such as 90m, 24h or 7d (s, m, h, d), got '${v}'`);
  return ms;
}

/** Every model call the log holds (since `since`), with each turn's user from its user_message for older events. */
async function readUsage(mesh: Mesh, since: number | undefined): Promise<UsageRecord[]> {
  const js = jetstream(mesh.nc);
  const start =
    since === undefined
      ? { deliver_policy: DeliverPolicy.All }
      : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(since).toISOString() };
  const c = await js.consumers.get(StreamName.Log, { filter_subjects: subjects.logAll, ...start });
  if ((await c.info(true)).num_pending === 0) return [];
  const users = new Map<string, string>();
  const out: UsageRecord[] = [];
  for await (const m of await c.consume()) {
    try {
      const e = decodeBody(LogEvent, m, "log event");
      if (e.type === "user_message") users.set(`${e.conversation}:${e.turn}`, e.user.id);
      const r = usageRecord(e, users.get(`${e.conversation}:${e.turn}`));
      if (r) out.push(r);
    } catch {
      // An event this version cannot read is no model call it could count.
    }
    if (m.info.pending === 0) break;
  }
  return out;
}

function totalOf(rows: UsageRow[]): UsageRow {
  const priced = rows.filter((r) => r.costUsd !== undefined);
  return {
    key: "TOTAL",
    calls: rows.reduce((n, r) => n + r.calls, 0),
    tokensIn: rows.reduce((n, r) => n + r.tokensIn, 0),
    tokensOut: rows.reduce((n, r) => n + r.tokensOut, 0),
    costUsd: priced.length ? priced.reduce((n, r) => n + r.costUsd!, 0) : undefined,
    unpricedTokens: rows.reduce((n, r) => n + r.unpricedTokens, 0),
  };
}

function cells(r: UsageRow): string[] {
  const cost = r.costUsd === undefined ? "unknown" : r.costUsd.toFixed(r.costUsd < 1 ? 6 : 2);
  return [r.key, String(r.calls), String(r.tokensIn), String(r.tokensOut), cost, String(r.unpricedTokens)];
}
