/** The LiteLLM key check, apart from the `openai` client so that it runs at start without loading it. */
import { statSync, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { DEFAULT_LITELLM_KEY_ENV } from "../../schemas/index.ts";
import { BackendConfigError } from "../errors.ts";
import { readKeyFile } from "../../mesh/index.ts";

export interface OpenAIKeyConfig {
  baseURL: string;
  /** The key itself. */
  apiKey?: string;
  /** Name of the environment variable that holds the key; default LITELLM_API_KEY. */
  apiKeyEnv?: string;
  /** A file with the key (the key alone, or an env file assigning apiKeyEnv), re-read when it changes: how the key rotates. */
  apiKeyFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Where the key comes from, for error messages: the file or the variable. */
export const keySourceOf = (cfg: OpenAIKeyConfig): string =>
  cfg.apiKeyFile !== undefined ? `the key file ${cfg.apiKeyFile}` : `the ${cfg.apiKeyEnv ?? DEFAULT_LITELLM_KEY_ENV} environment variable`;

function keyFromFile(cfg: OpenAIKeyConfig & { apiKeyFile: string }): string {
  const keyEnv = cfg.apiKeyEnv ?? DEFAULT_LITELLM_KEY_ENV;
  let keys: string[];
  try {
    keys = readKeyFile(cfg.apiKeyFile, keyEnv, "litellm.api_key_file");
  } catch (err) {
    throw new BackendConfigError(`no API key for ${cfg.baseURL}: ${(err as Error).message}`, { cause: err });
  }
  if (keys.length !== 1)
    throw new BackendConfigError(
      `no API key for ${cfg.baseURL}: the key file ${cfg.apiKeyFile} (litellm.api_key_file) holds ${keys.length} keys; ` +
        `put exactly one in it (the key alone, or ${keyEnv}=<key>)`,
    );
  return keys[0]!;
}

/** The key (given, from the file, or from the variable `apiKeyEnv` names); throws BackendConfigError saying how to set it. */
export function openAIKey(cfg: OpenAIKeyConfig): string {
  if (cfg.apiKey === undefined && cfg.apiKeyFile !== undefined) return keyFromFile({ ...cfg, apiKeyFile: cfg.apiKeyFile });
  const keyEnv = cfg.apiKeyEnv ?? DEFAULT_LITELLM_KEY_ENV;
  const apiKey = cfg.apiKey ?? (cfg.env ?? process.env)[keyEnv];
  if (!apiKey) {
    throw new BackendConfigError(
      `no API key for ${cfg.baseURL}: environment variable ${keyEnv} is not set; ` +
        `export ${keyEnv}=<your LiteLLM key> (or set litellm.api_key_env to the variable that holds it)`,
    );
  }
  return apiKey;
}

/**
 * The key for each call. From a key file it is read again whenever the file changed (size, time,
 * inode: a rename onto it counts); a file that cannot be read or holds no single key then leaves
 * the key in use as it was (the old key may still be in its grace on the proxy). Throws at once
 * when there is no key to start with.
 */
export function openAIKeySource(cfg: OpenAIKeyConfig): () => Promise<string> {
  let key = openAIKey(cfg);
  const file = cfg.apiKey === undefined ? cfg.apiKeyFile : undefined;
  if (file === undefined) return () => Promise.resolve(key);
  const stampOf = (s: Stats | undefined) => (s ? `${s.ino}:${s.size}:${s.mtimeMs}` : "");
  let seen = stampOf(statSync(file, { throwIfNoEntry: false }));
  return async () => {
    const now = stampOf(await stat(file).catch(() => undefined));
    if (now !== seen && now !== "") {
      seen = now;
      try {
        key = keyFromFile({ ...cfg, apiKeyFile: file });
      } catch {
        // keep the key in use; the next change of the file is read again
      }
    }
    return key;
  };
}
