/** The models `lyra serve` offers: `lyra`, and `lyra/<role>` for the config's roles and those found on the mesh. */
import { discoverRoles, type Mesh } from "../../../mesh/index.ts";

export interface Models {
  /** Model ids: `lyra`, then `lyra/<role>` for the config's roles, then any other role discovered. */
  ids(): Promise<string[]>;
  /** Whether a role can be called as `lyra/<role>`; an unknown name looks on the mesh again (at most once a second). */
  hasRole(role: string): Promise<boolean>;
}

/** Discovered roles are reused this long for the list, ms; an unknown name looks again after a second. */
const TTL_MS = 10_000;
const UNKNOWN_TTL_MS = 1000;
/** How long one discovery collects answers, ms. */
const WAIT_MS = 300;

export function createModels(mesh: Mesh, configured: readonly string[]): Models {
  const config = new Set(configured);
  let found = new Set<string>();
  let at = -Infinity;
  let pending: Promise<void> | undefined;
  const refresh = async (maxAgeMs: number) => {
    if (performance.now() - at < maxAgeMs) return;
    pending ??= discoverRoles(mesh, { timeoutMs: WAIT_MS })
      .then((rs) => {
        found = new Set(rs.map((r) => r.role));
      })
      .catch(() => undefined) // the config's roles still stand
      .finally(() => {
        at = performance.now();
        pending = undefined;
      });
    await pending;
  };
  return {
    async ids() {
      await refresh(TTL_MS);
      const extra = [...found].filter((r) => !config.has(r)).sort();
      return ["lyra", ...[...config, ...extra].map((r) => `lyra/${r}`)];
    },
    async hasRole(role) {
      if (config.has(role) || found.has(role)) return true;
      await refresh(UNKNOWN_TTL_MS);
      return found.has(role);
    },
  };
}
