/**
 * What the agent host knows of its roles' models: whether each is there and loaded, and whether
 * the role is degraded (its primary cannot serve it). Checked at start, after the pre-load and
 * every healthIntervalMs.
 */
import type { MeshConfig } from "../../schemas/index.ts";
import type { Logger } from "../../mesh/index.ts";
import type { RoleBackend } from "./backends.ts";
import type { AgentMetrics } from "./metrics.ts";

export interface RoleState {
  role: string;
  model: string;
  backend: string;
  loaded: boolean;
  degraded: boolean;
  reason?: string;
}

/** The roles' states before the first check: a model not on Ollama counts as loaded. */
export function initialStates(config: MeshConfig, roles: string[]): Map<string, RoleState> {
  return new Map<string, RoleState>(
    roles.map((role) => {
      const rc = config.roles[role]!;
      return [role, { role, model: rc.model, backend: rc.backend, loaded: rc.backend !== "ollama", degraded: false }];
    }),
  );
}

/** Checks every role's primary backend and updates its state (and the degraded gauge). */
export async function checkHealth(
  states: Map<string, RoleState>,
  backends: Map<string, RoleBackend>,
  metrics: AgentMetrics,
): Promise<void> {
  await Promise.all(
    [...states.values()].map(async (st) => {
      const rb = backends.get(st.role)!;
      const h = await rb.primary.health({ timeoutMs: 3000 });
      const missing = h.ok && rb.primary.name === "ollama" && !h.models.some((m) => sameModel(m, st.model));
      st.loaded = rb.primary.name !== "ollama" || h.loaded.some((m) => sameModel(m, st.model));
      st.degraded = !h.ok || missing || rb.breakerOpen();
      st.reason = !h.ok
        ? h.error
        : missing
          ? `model '${st.model}' is not pulled; run 'ollama pull ${st.model}'`
          : rb.breakerOpen()
            ? "circuit breaker open"
            : undefined;
      metrics.degraded.set({ role: st.role }, st.degraded ? 1 : 0);
    }),
  );
}

/** Pre-loads every role's model, so the first request does not pay the load; a failure leaves the role degraded. */
export async function warmModels(
  config: MeshConfig,
  states: Map<string, RoleState>,
  backends: Map<string, RoleBackend>,
  log: Logger,
): Promise<void> {
  await Promise.all(
    [...states.values()].map(async (st) => {
      const rb = backends.get(st.role)!;
      try {
        // With the role's keep_alive: otherwise Ollama unloads the pre-loaded model after its default 5 min.
        const rc = config.roles[st.role]!;
        await rb.primary.warm(st.model, { keepAlive: rc.keep_alive, numCtx: rc.num_ctx });
        log.info({ role: st.role, model: st.model }, "model warm");
        // Variants on the role's Ollama with a model of their own are loaded too.
        const own = (rc.variants ?? []).filter((v) => v.model && v.model !== st.model && (v.backend ?? rc.backend) === rc.backend);
        for (const v of own) await rb.primary.warm(v.model!, { keepAlive: rc.keep_alive, numCtx: rc.num_ctx });
      } catch (err) {
        log.warn({ role: st.role, model: st.model, err }, "could not pre-load the model; the role is degraded until it can");
      }
    }),
  );
}

/** Ollama lists "qwen3:8b" for "qwen3:8b" and "llama3:latest" for "llama3". */
function sameModel(listed: string, wanted: string): boolean {
  return listed === wanted || listed === `${wanted}:latest`;
}
