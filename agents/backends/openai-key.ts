/** The LiteLLM key check, apart from the `openai` client so that it runs at start without loading it. */
import { DEFAULT_LITELLM_KEY_ENV } from "../../schemas/index.ts";
import { BackendConfigError } from "../errors.ts";

/** The key (given, or from the variable `apiKeyEnv` names); throws BackendConfigError saying how to set it. */
export function openAIKey(cfg: { baseURL: string; apiKey?: string; apiKeyEnv?: string; env?: NodeJS.ProcessEnv }): string {
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
