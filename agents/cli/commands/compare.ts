import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { decodeBody, StreamName, subjects, type Mesh } from "../../../mesh/index.ts";
import { LogEvent } from "../../../schemas/index.ts";
import { defineCommand, intOption, UsageError } from "../command.ts";
import { compareReport } from "../compare.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";

const UNIT_MS: Record<string, number> = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 };

/** "90m", "24h", "7d" as ms; throws a UsageError naming the flag. */
export function sinceMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v);
  if (!m || !(Number(m[1]) > 0)) throw new UsageError(`--since must be a duration such as 90m, 24h or 7d, got '${v}'`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Every log event stored since `start` (all conversations), oldest first. */
export async function logSince(mesh: Mesh, start: Date): Promise<LogEvent[]> {
  const js = jetstream(mesh.nc);
  const c = await js.consumers.get(StreamName.Log, {
    filter_subjects: subjects.logAll,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: start.toISOString(),
  });
  const out: LogEvent[] = [];
  if ((await c.info(true)).num_pending === 0) return out;
  for await (const m of await c.consume({ expires: 5_000 })) {
    try {
      out.push(decodeBody(LogEvent, m, "log event"));
    } catch {
      // A foreign or corrupt entry is not a call of the role.
    }
    if (m.info.pending === 0) break;
  }
  await c.delete().catch(() => undefined);
  return out;
}

export const compare = defineCommand({
  name: "compare",
  summary: "A role's variants side by side from the log: time to first token, total time, answer length, error and fallback rates.",
  usage: "ROLE [--since DURATION] [--pairs N]",
  options: { ...natsOption, since: { type: "string", default: "24h" }, pairs: { type: "string", default: "5" } },
  help: {
    ...natsHelp,
    since: "how far back to read the log (90m, 24h, 7d)",
    pairs: "pairs of answers to the same prompt (primary and shadow) to print",
  },
  details: "Variants are set in roles.<role>.variants; 'lyra rollout' changes their weights.",
  async run(values, positionals) {
    const role = positionals[0];
    if (!role) throw new UsageError("which role? such as 'lyra compare pragmatist'");
    const start = new Date(Date.now() - sinceMs(values.since as string));
    const pairs = intOption("pairs", values.pairs, 5);
    const mesh = await cliConnect(values, "lyra-compare");
    try {
      const events = await logSince(mesh, start);
      process.stdout.write(compareReport(role, events, { since: start.toISOString().slice(0, 19) + "Z", pairs }) + "\n");
      return 0;
    } finally {
      await mesh.close();
    }
  },
});
