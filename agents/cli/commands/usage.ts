import { summarizeUsage, UsageBy, usageRecord, type Mesh, type UsageRecord, type UsageRow } from "../../../mesh/index.ts";
import { defineCommand, UsageError } from "../command.ts";
import { configHelp, configOption, loadConfig } from "../config.ts";
import { logSince, sinceMs } from "../log-since.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";
import { printTable } from "./status.ts";

const BY: readonly string[] = Object.values(UsageBy);

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
    const since = values.since === undefined ? undefined : Date.now() - sinceMs(values.since as string);
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

/** Every model call the log holds (since `since`), with each turn's user from its user_message for older events. */
async function readUsage(mesh: Mesh, since: number | undefined): Promise<UsageRecord[]> {
  const users = new Map<string, string>();
  const out: UsageRecord[] = [];
  for (const e of await logSince(mesh, since === undefined ? undefined : new Date(since))) {
    if (e.type === "user_message") users.set(`${e.conversation}:${e.turn}`, e.user.id);
    const r = usageRecord(e, users.get(`${e.conversation}:${e.turn}`));
    if (r) out.push(r);
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
