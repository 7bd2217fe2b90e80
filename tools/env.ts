/**
 * `${VAR}` expansion for bridged servers' `env`, `args` and `headers`, so secrets stay in the
 * environment of `lyra tools` and out of the config file. `$${` escapes a literal `${`.
 */
import { ToolsError, ToolsErrorCode } from "./errors.ts";

const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Expands `${VAR}` in one value; a missing variable is a configuration error naming the server, the field and the variable. */
export function expandVars(value: string, env: Readonly<Record<string, string | undefined>>, server: string, field: string): string {
  return value.replace(VAR, (match, name: string | undefined) => {
    if (name === undefined) return "${"; // the `$${` escape
    const v = env[name];
    if (v === undefined) {
      throw new ToolsError(
        ToolsErrorCode.Config,
        `tool server '${server}': ${field} uses \${${name}} but the environment of 'lyra tools' has no ${name}; ` +
          `export ${name} (or remove it from tools.servers.${server}.${field.split(/[.[]/)[0]})`,
      );
    }
    return v;
  });
}

export function expandRecord(
  rec: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
  server: string,
  field: string,
): Record<string, string> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, expandVars(v, env, server, `${field}.${k}`)]));
}

export function expandList(
  list: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  server: string,
  field: string,
): string[] {
  return list.map((v, i) => expandVars(v, env, server, `${field}[${i}]`));
}
