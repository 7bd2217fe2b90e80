import { weightProblem, type RoleVariant } from "../../../schemas/index.ts";
import { clearRollout, setRollout, storedRollout } from "../../../mesh/index.ts";
import { defineCommand, UsageError } from "../command.ts";
import { configHelp, configOption, loadConfig } from "../config.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";

/**
 * The weights `VARIANT=PCT` arguments ask for, over `current`: an answering variant left out gets
 * what the others leave of 100 % (one at most), a shadow left out keeps its weight.
 */
export function parseWeights(variants: readonly RoleVariant[], current: Record<string, number>, args: string[]): Record<string, number> {
  const asked: Record<string, number> = {};
  for (const a of args) {
    const m = /^([a-z0-9][a-z0-9_-]{0,62})=(\d+(?:\.\d+)?)%?$/.exec(a);
    if (!m) throw new UsageError(`'${a}' is not VARIANT=PERCENT, such as candidate=50`);
    if (!variants.some((v) => v.name === m[1])) throw new UsageError(`no variant '${m[1]}'; the role's variants are ${names(variants)}`);
    asked[m[1]!] = Number(m[2]);
  }
  const weights = { ...current, ...asked };
  const open = variants.filter((v) => !v.shadow && asked[v.name] === undefined);
  if (open.length === 1) {
    const rest = variants.filter((v) => !v.shadow && v !== open[0]).reduce((s, v) => s + weights[v.name]!, 0);
    weights[open[0]!.name] = Math.round((100 - rest) * 1000) / 1000;
  }
  const problem = weightProblem(variants, weights);
  if (problem) throw new UsageError(`these weights ${problem}`);
  return weights;
}

const names = (vs: readonly RoleVariant[]) => vs.map((v) => v.name).join(", ");

const table = (variants: readonly RoleVariant[], before: Record<string, number>, after?: Record<string, number>) =>
  variants
    .map((v) => {
      const change = after && after[v.name] !== before[v.name] ? ` → ${after[v.name]} %` : "";
      return `  ${v.name.padEnd(20)} ${v.shadow ? "shadow " : "answers"} ${String(before[v.name]).padStart(5)} %${change}`;
    })
    .join("\n");

export const rollout = defineCommand({
  name: "rollout",
  summary: "Show or change the weights of a role's variants, on every conductor at once, without a restart.",
  usage: "ROLE [VARIANT=PERCENT ...] [--reset] [--config FILE]",
  options: { ...configOption, ...natsOption, reset: { type: "boolean" } },
  help: { ...configHelp, ...natsHelp, reset: "drop the stored weights: the config's apply again" },
  details:
    "Answering variants' weights add up to 100; one left out gets the rest. A shadow's weight is the percent of\n" +
    "conversations it also answers, unseen. Weights are stored in the LYRA_ROLLOUT KV bucket, which every conductor\n" +
    "watches; a conversation keeps its variant unless a change must move it. Example, three steps:\n" +
    "  lyra rollout pragmatist candidate=10   lyra rollout pragmatist candidate=50   lyra rollout pragmatist candidate=100",
  async run(values, positionals) {
    const [role, ...args] = positionals;
    if (!role) throw new UsageError("which role? such as 'lyra rollout pragmatist candidate=10'");
    const cfg = await loadConfig(values);
    const variants = cfg.roles[role]?.variants;
    if (!variants)
      throw new UsageError(
        cfg.roles[role]
          ? `role '${role}' has no variants; add roles.${role}.variants to the config (docs/operations.md "Rollout and A/B")`
          : `no role '${role}' in the config (roles: ${Object.keys(cfg.roles).join(", ")})`,
      );
    if (values.reset && args.length) throw new UsageError("--reset takes no VARIANT=PERCENT arguments");
    const nats = typeof values.nats === "string" ? values.nats : cfg.nats.servers.join(",");
    const mesh = await cliConnect({ nats }, "lyra-rollout");
    try {
      const configured = Object.fromEntries(variants.map((v) => [v.name, v.weight]));
      const stored = await storedRollout(mesh, role, variants);
      const current = stored?.weights ?? configured;
      const from = stored ? `stored ${new Date(stored.at).toISOString().slice(0, 19)}Z` : "the config's";
      if (values.reset) {
        await clearRollout(mesh, role);
        process.stdout.write(`role '${role}': stored weights dropped; the config's apply:\n${table(variants, current, configured)}\n`);
      } else if (!args.length) {
        process.stdout.write(`role '${role}' (${from}):\n${table(variants, current)}\n`);
      } else {
        const next = parseWeights(variants, current, args);
        await setRollout(mesh, role, variants, next);
        process.stdout.write(`role '${role}': weights set (were ${from}):\n${table(variants, current, next)}\n`);
      }
      return 0;
    } finally {
      await mesh.close();
    }
  },
});
