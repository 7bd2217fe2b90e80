/** The committee's specialists as the config defines them, and the one the router falls back to. */
import { RoleKind, type MeshConfig } from "../../schemas/index.ts";

/** A specialist as the router's menu shows it. */
export interface SpecialistInfo {
  name: string;
  description?: string;
  vision?: boolean;
}

/** Every role of kind specialist, in the config's order. */
export function specialistsOf(cfg: MeshConfig): SpecialistInfo[] {
  return Object.entries(cfg.roles)
    .filter(([, r]) => r.kind === RoleKind.Specialist)
    .map(([name, r]) => ({ name, description: r.description, vision: r.vision }));
}

/**
 * Where the router sends a message when its answer is unusable, and the conductor when the
 * router fails: router.default_specialist, else the first specialist; undefined when the config
 * has no specialist. The one place this is decided (the host's router, the LiteLLM fallback's
 * router and the conductor's committee all take it from here).
 */
export function defaultSpecialistOf(cfg: MeshConfig): string | undefined {
  return cfg.router?.default_specialist ?? specialistsOf(cfg)[0]?.name;
}
