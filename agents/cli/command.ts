/** A tiny command framework on node:util parseArgs: every command gets --help. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { AgentError, AgentErrorCode, Fault } from "../errors.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Command<O extends Options = Options> {
  name: string;
  summary: string;
  /** Usage line after `lyra <name>`, e.g. "[--json] MESSAGE". */
  usage: string;
  options: O;
  /** Option descriptions for --help. */
  help: Partial<Record<keyof O & string, string>>;
  /** Longer text shown under the options. */
  details?: string;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
}

/** A command-line mistake: printed with the usage, exit code 2. */
export class UsageError extends AgentError {
  constructor(message: string) {
    super(AgentErrorCode.Usage, Fault.User, message);
  }
}

export function defineCommand<O extends Options>(c: Command<O>): Command {
  return c;
}

export function helpText(c: Command): string {
  const lines = [`Usage: lyra ${c.name} ${c.usage}`, "", c.summary, "", "Options:"];
  const all = { ...c.options, help: { type: "boolean", short: "h" } } as Options;
  const desc: Record<string, string | undefined> = { ...c.help, help: "show this help" };
  for (const [name, o] of Object.entries(all)) {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? " VALUE" : ""}`;
    const def = o.default !== undefined ? ` (default: ${String(o.default)})` : "";
    lines.push(`  ${flag.padEnd(28)} ${desc[name] ?? ""}${def}`);
  }
  if (c.details) lines.push("", c.details);
  return lines.join("\n");
}

export async function runCommand(c: Command, argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...c.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`lyra ${c.name}: ${(err as Error).message}\n\n${helpText(c)}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(c) + "\n");
    return 0;
  }
  try {
    return await c.run(parsed.values, parsed.positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`lyra ${c.name}: ${err.message}\n\n${helpText(c)}\n`);
      return 2;
    }
    throw err;
  }
}

/** Parses a positive integer option, or throws a UsageError naming it. */
export function intOption(name: string, v: string | boolean | string[] | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a whole number, got '${typeof v === "string" ? v : JSON.stringify(v)}'`);
  return n;
}
