/**
 * The LiteLLM proxy config (config.yaml, https://docs.litellm.ai/docs/proxy/configs) for a mesh:
 * one `model_list` entry per upstream of each alias the mesh asks the proxy for (the roles'
 * fallback aliases, and the models of the artist and speech tool servers), each routed to the
 * upstream that `litellm.models` gives for it (roles' aliases may take `litellm.models.default`);
 * `router_settings` from `litellm.router` (retries, cooldown of failing upstreams). Keys are
 * `os.environ/NAME` references, so the file holds no secret.
 */
import { LiteLLMRouterConfig, type MeshConfig } from "../../schemas/index.ts";
import { ARTIST_DEFAULTS, SPEECH_DEFAULTS } from "../../tools/index.ts";
import { UsageError } from "./command.ts";

/** LiteLLM's model_info.mode of an alias that is not a chat model (the proxy's health checks and /model/info use it). */
const MEDIA_MODES = { artist: "image_generation", speech: "audio_speech" } as const;
const MEDIA_DEFAULT_MODELS: Record<keyof typeof MEDIA_MODES, string> = { artist: ARTIST_DEFAULTS.model, speech: SPEECH_DEFAULTS.model };

export interface LiteLLMConfig {
  model_list: {
    model_name: string;
    litellm_params: { model: string; api_key?: string; api_base?: string };
    model_info?: { mode: string };
  }[];
  litellm_settings: { drop_params: boolean };
  router_settings: { num_retries: number; allowed_fails: number; cooldown_time: number; routing_strategy: string };
  general_settings: { master_key: string };
}

export interface GeneratedLiteLLM {
  config: LiteLLMConfig;
  /** Who uses each alias: roles (their fallback) and tool servers ("tools.servers.artist"). */
  roles: Map<string, string[]>;
  /** Roles with no fallback alias (they get no entry). */
  without: string[];
}

/** The aliases the artist and speech built-ins ask the proxy for: alias -> its LiteLLM mode and users. */
function mediaAliases(cfg: MeshConfig): Map<string, { mode: string; users: string[] }> {
  const out = new Map<string, { mode: string; users: string[] }>();
  for (const [name, s] of Object.entries(cfg.tools.servers)) {
    if (!("builtin" in s) || (s.builtin !== "artist" && s.builtin !== "speech")) continue;
    const model = s.options?.model;
    const alias = typeof model === "string" && model ? model : MEDIA_DEFAULT_MODELS[s.builtin];
    const entry = out.get(alias) ?? { mode: MEDIA_MODES[s.builtin], users: [] };
    entry.users.push(`tools.servers.${name}`);
    out.set(alias, entry);
  }
  return out;
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
  const media = mediaAliases(cfg);
  if (roles.size === 0 && media.size === 0)
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
  // litellm.models.default is a chat model: an image or speech alias needs its own upstream.
  const mediaMissing = [...media].filter(([a]) => !models[a] && !roles.has(a));
  if (mediaMissing.length) {
    const [alias, m] = mediaMissing[0]!;
    const asks = `${m.users.join(" and ")} ask${m.users.length > 1 ? "" : "s"}`;
    throw new UsageError(
      `no upstream model for alias '${alias}', the model ${asks} the proxy for: set litellm.models.${alias} to ` +
        `{ model: 'provider/model', api_key_env: NAME } (an ${m.mode} model; litellm.models.default is not used for it)`,
    );
  }
  const entries = (alias: string, mode?: string) =>
    [models[alias] ?? models.default!].flat().map((up) => ({
      model_name: alias,
      litellm_params: {
        model: up.model,
        ...(up.api_key_env ? { api_key: `os.environ/${up.api_key_env}` } : {}),
        ...(up.api_base ? { api_base: up.api_base } : {}),
      },
      ...(mode ? { model_info: { mode } } : {}),
    }));
  const model_list = [
    ...[...roles.keys()].flatMap((alias) => entries(alias)),
    ...[...media].filter(([a]) => !roles.has(a)).flatMap(([alias, m]) => entries(alias, m.mode)),
  ];
  for (const [alias, m] of media) roles.set(alias, [...(roles.get(alias) ?? []), ...m.users]);
  const r = cfg.litellm.router ?? LiteLLMRouterConfig.parse({});
  return {
    config: {
      model_list,
      litellm_settings: { drop_params: true },
      router_settings: {
        num_retries: r.num_retries,
        allowed_fails: r.allowed_fails,
        cooldown_time: r.cooldown_time / 1000,
        routing_strategy: r.routing_strategy,
      },
      // The proxy's master key is the key the mesh sends (litellm.api_key_env), read from the same variable.
      general_settings: { master_key: `os.environ/${cfg.litellm.api_key_env}` },
    },
    roles,
    without,
  };
}
