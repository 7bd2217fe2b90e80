/**
 * The LiteLLM proxy config (config.yaml, https://docs.litellm.ai/docs/proxy/configs) for a mesh:
 * one `model_list` entry per fallback alias the roles name, each routed to the upstream model that
 * `litellm.models` gives for it (or `litellm.models.default`). Keys are `os.environ/NAME`
 * references, so the file holds no secret.
 */
import type { MeshConfig } from "../../schemas/index.ts";
import { UsageError } from "./command.ts";

export interface LiteLLMConfig {
  model_list: { model_name: string; litellm_params: { model: string; api_key?: string; api_base?: string } }[];
  litellm_settings: { drop_params: boolean };
  general_settings: { master_key: string };
}

export interface GeneratedLiteLLM {
  config: LiteLLMConfig;
  /** Which roles use each alias. */
  roles: Map<string, string[]>;
  /** Roles with no fallback alias (they get no entry). */
  without: string[];
}

export function litellmConfig(cfg: MeshConfig): GeneratedLiteLLM {
  if (!cfg.litellm)
    throw new UsageError("the config has no litellm section: add litellm.base_url (and litellm.models) to generate a LiteLLM config");
  const models = cfg.litellm.models ?? {};
  const roles = new Map<string, string[]>();
  const without: string[] = [];
  for (const [role, rc] of Object.entries(cfg.roles)) {
    if (!rc.fallback) without.push(role);
    else roles.set(rc.fallback, [...(roles.get(rc.fallback) ?? []), role]);
  }
  if (roles.size === 0)
    throw new UsageError(
      "no role has a fallback alias: set roles.<role>.fallback (such as 'lyra-voice') for the roles LiteLLM should back",
    );
  const missing = [...roles.keys()].filter((a) => !models[a] && !models.default);
  if (missing.length) {
    throw new UsageError(
      `no upstream model for alias${missing.length > 1 ? "es" : ""} ${missing.map((a) => `'${a}'`).join(", ")}: ` +
        `set litellm.models.${missing[0]} (or litellm.models.default) to { model: 'provider/model', api_key_env: NAME }`,
    );
  }
  const model_list = [...roles.keys()].map((alias) => {
    const up = models[alias] ?? models.default!;
    return {
      model_name: alias,
      litellm_params: {
        model: up.model,
        ...(up.api_key_env ? { api_key: `os.environ/${up.api_key_env}` } : {}),
        ...(up.api_base ? { api_base: up.api_base } : {}),
      },
    };
  });
  return {
    // The proxy's master key is the key the mesh sends (litellm.api_key_env), read from the same variable.
    config: {
      model_list,
      litellm_settings: { drop_params: true },
      general_settings: { master_key: `os.environ/${cfg.litellm.api_key_env}` },
    },
    roles,
    without,
  };
}
