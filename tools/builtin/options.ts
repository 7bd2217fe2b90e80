/**
 * The one parser of `tools.servers.<server>.options` for the built-in servers: each server's
 * options module brings its zod schema (with its defaults) and the wording of its errors; a bad
 * option is a ToolsError('config') that names the option, its value and the fix.
 */
import type { z } from "zod";
import { ToolsError, ToolsErrorCode } from "../errors.ts";

/** The first problem zod found in a server's options, as a server's wording needs it. */
export interface OptionProblem {
  /** `tools.servers.<server>.options`. */
  where: string;
  /** The option's path below `where` (empty for the whole object). */
  path: PropertyKey[];
  /** The value found there (undefined when absent). */
  value: unknown;
  /** zod's message. */
  message: string;
  /** Set when the problem is keys the schema does not know. */
  unknownKeys?: string[];
}

/** How a server words an option error (operators and tests read them). */
export type OptionWording = (p: OptionProblem) => string;

export function parseServerOptions<S extends z.ZodType>(
  schema: S,
  server: string,
  options: Readonly<Record<string, unknown>>,
  wording: OptionWording,
): z.output<S> {
  const r = schema.safeParse(options);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const value = issue.path.reduce<unknown>((o, k) => (o as Record<PropertyKey, unknown> | undefined)?.[k], options);
  throw new ToolsError(
    ToolsErrorCode.Config,
    wording({
      where: `tools.servers.${server}.options`,
      path: issue.path,
      value,
      message: issue.message,
      ...(issue.code === "unrecognized_keys" ? { unknownKeys: issue.keys } : {}),
    }),
  );
}

/** `'a', 'b'`: option names as messages quote them. */
export const quoteKeys = (keys: readonly string[]): string => keys.map((k) => `'${k}'`).join(", ");

/**
 * The wording of the media, compute and web servers: the option and its value (or `unset(key)`
 * when absent, default "missing"), then a pointer to the `what` server's section of the example config.
 */
export function seeExampleConfig(what: string, unset: (key: string) => string = () => "missing"): OptionWording {
  const hint = `see the ${what} server's options in config/mesh.example.yaml`;
  return (p) =>
    p.unknownKeys
      ? `${p.where} has unknown option(s) ${quoteKeys(p.unknownKeys)}; ${hint}`
      : `${p.where}.${p.path.join(".")} is ${JSON.stringify(p.value) ?? unset(String(p.path[0]))}: ${p.message}; ${hint}`;
}
