/**
 * Secrets files that can change while a process runs (key rotation): `lyra serve`'s API keys
 * (serve.keys_file) and the LiteLLM key (litellm.api_key_file). An environment variable cannot
 * change in a running process (systemd's EnvironmentFile is read once, at start), a file can.
 *
 * A file holds keys one a line (or comma-separated); blank lines and '#' comments are skipped.
 * It may also be an environment file: a line `NAME=value` (or `export NAME=value`, the value
 * optionally quoted) gives its value when NAME is the variable `envName`; other variables' lines
 * are skipped, so one file can be a systemd EnvironmentFile and the keys file at once.
 */
import { readFileSync } from "node:fs";

const ASSIGNMENT = /^(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/;

/** The keys in a keys file's text (see above); `envName` is the variable whose assignment counts. */
export function parseKeyFile(text: string, envName: string): string[] {
  const keys: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = ASSIGNMENT.exec(line);
    if (m && m[1] !== envName) continue;
    const value = m ? m[2]!.trim().replace(/^(["'])(.*)\1$/, "$2") : line;
    keys.push(
      ...value
        .split(",")
        .map((k) => k.trim())
        .filter(Boolean),
    );
  }
  return keys;
}

/** Reads a keys file; throws naming the file and the fix when it cannot be read. */
export function readKeyFile(path: string, envName: string, setting: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${setting} '${path}': ${(err as Error).message}; check the path and its permissions`, { cause: err });
  }
  return parseKeyFile(text, envName);
}
