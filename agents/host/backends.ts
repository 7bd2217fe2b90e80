/** Builds each role's model backend from the mesh config: primary, plus the LiteLLM fallback. */
import type { MeshConfig, RoleConfig } from "../../schemas/index.ts";
import type { Logger } from "../../mesh/index.ts";
// lazy: backends/index.ts would load the openai and ollama clients at once; an agent host loads them only when used (lazy.ts)
import { lazyBackend } from "../backends/lazy.ts";
// lazy: backends/index.ts would load the openai and ollama clients at once; an agent host loads them only when used (lazy.ts)
import { openAIKey } from "../backends/openai-key.ts";
// lazy: backends/index.ts would load the openai and ollama clients at once; an agent host loads them only when used (lazy.ts)
import { createScriptedBackend } from "../backends/scripted.ts";
// lazy: backends/index.ts would load the openai and ollama clients at once; an agent host loads them only when used (lazy.ts)
import { withFallback } from "../backends/fallback.ts";
import { BackendConfigError } from "../errors.ts";
import type { ModelBackend } from "../backends/index.ts";

export interface RoleBackend {
  /** What the role calls: the primary, wrapped with the fallback when one is configured. */
  backend: ModelBackend;
  /** The primary alone, for health checks and warm-up. */
  primary: ModelBackend;
  /** True while the primary's circuit breaker is open. */
  breakerOpen: () => boolean;
  /** What each variant of the role calls (roles.<r>.variants), by name: `backend`, or its own backend with the same fallback. */
  variants: Map<string, ModelBackend>;
}

export interface BackendFactoryOptions {
  config: MeshConfig;
  ollamaUrl: string;
  log: Logger;
  onFallback?: (role: string, reason: string) => void;
}

/**
 * The LiteLLM proxy as a backend (the agent host's fallback, the conductor's): a missing key fails
 * here, at start; the `openai` client loads on the first call, so a fallback that never answers costs nothing.
 */
export function liteLLMBackend(litellm: NonNullable<MeshConfig["litellm"]>): ModelBackend {
  const cfg = { baseURL: litellm.base_url, apiKeyEnv: litellm.api_key_env, apiKeyFile: litellm.api_key_file };
  openAIKey(cfg);
  // lazy: the clients are loaded on first use (agents/backends/lazy.ts): a fallback that never answers costs nothing.
  return lazyBackend("openai", async () => (await import("../backends/openai.ts")).createOpenAIBackend(cfg));
}

export function createRoleBackends(o: BackendFactoryOptions, roles: string[]): Map<string, RoleBackend> {
  let ollama: ModelBackend | undefined; // one client per host, shared by its roles
  let litellm: ModelBackend | undefined;
  const lite = () => {
    if (!o.config.litellm)
      throw new BackendConfigError("a role uses LiteLLM but the config has no 'litellm' section; add litellm.base_url");
    return (litellm ??= liteLLMBackend(o.config.litellm));
  };
  const primaryFor = (name: string, rc: RoleConfig): ModelBackend => {
    switch (rc.backend) {
      case "ollama":
        return (ollama ??= lazyBackend("ollama", async () =>
          // lazy: the ollama client loads on the first call (lazy.ts), so a host without Ollama roles never loads it
          (await import("../backends/ollama.ts")).createOllamaBackend({ host: o.ollamaUrl }),
        ));
      case "openai":
        return lite();
      case "scripted":
        if (!rc.script)
          throw new BackendConfigError(`role '${name}' uses the scripted backend but has no script; add roles.${name}.script`);
        return createScriptedBackend(rc.script);
    }
  };
  const withRoleFallback = (name: string, rc: RoleConfig, primary: ModelBackend, backend: RoleConfig["backend"]) => {
    if (!rc.fallback || backend === "openai") return undefined;
    return withFallback(primary, lite(), {
      fallbackModel: rc.fallback,
      onFallback: (e) => {
        o.log.warn({ role: name, reason: e.reason, err: e.error, fallbackModel: e.fallbackModel }, "fallback backend answering");
        o.onFallback?.(name, e.reason);
      },
    });
  };
  const out = new Map<string, RoleBackend>();
  for (const name of roles) {
    const rc = o.config.roles[name]!;
    const primary = primaryFor(name, rc);
    const fb = withRoleFallback(name, rc, primary, rc.backend);
    const backend = fb ?? primary;
    const variants = new Map<string, ModelBackend>();
    for (const v of rc.variants ?? []) {
      if (!v.backend || v.backend === rc.backend) variants.set(v.name, backend);
      else {
        const own = primaryFor(name, { ...rc, backend: v.backend });
        variants.set(v.name, withRoleFallback(name, rc, own, v.backend) ?? own);
      }
    }
    out.set(name, { backend, primary, breakerOpen: () => fb?.breaker.state() === "open", variants });
  }
  return out;
}
