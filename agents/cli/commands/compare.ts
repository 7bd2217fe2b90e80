import { defineCommand, intOption, UsageError } from "../command.ts";
import { compareReport } from "../compare.ts";
import { logSince, sinceMs } from "../log-since.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";

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
