/** The committee as the conductor sees it, and its LiteLLM fallback, both from the mesh config. */
import type { MeshConfig } from "../../schemas/index.ts";
import {
  type BudgetOptions,
  type CommitteeConfig,
  type ConductorOptions,
  type RoleCaller,
  type Mesh,
  createRoleClient,
  type Logger,
  type RoleHandler,
  streamsFromConfig,
} from "../../mesh/index.ts";
import { BackendConfigError } from "../errors.ts";
import { liteLLMBackend } from "./backends.ts";
import { roleHandler } from "./handler.ts";
import { localCaller } from "./in-process-caller.ts";
import { defaultSpecialistOf, specialistsOf } from "./specialists.ts";

export function committeeFromConfig(cfg: MeshConfig): CommitteeConfig {
  const byKind = (k: string) =>
    Object.entries(cfg.roles)
      .filter(([, r]) => r.kind === k)
      .map(([n]) => n);
  const [router] = byKind("router");
  const [voice] = byKind("voice");
  const specialists = byKind("specialist");
  if (!router || !voice || specialists.length === 0) {
    throw new BackendConfigError(
      "the committee needs a role of kind 'router', one of kind 'voice' and at least one 'specialist'; set roles.<name>.kind in the config",
    );
  }
  const vision = specialists.filter((s) => cfg.roles[s]!.vision);
  const variants = Object.entries(cfg.roles)
    .filter(([, r]) => r.variants)
    .map(([n, r]) => [n, r.variants!.map((v) => ({ name: v.name, weight: v.weight, shadow: v.shadow }))] as const);
  return {
    router,
    voice,
    specialists,
    // Defined: the committee has a specialist (checked above).
    defaultSpecialist: defaultSpecialistOf(cfg)!,
    ...(vision.length ? { vision } : {}),
    pipeline: cfg.conductor.pipeline && { sentences: cfg.conductor.segment_sentences, minChars: cfg.conductor.segment_min_chars },
    ...(variants.length ? { variants: Object.fromEntries(variants) } : {}),
  };
}

/** Answers, through LiteLLM, for roles that have a fallback alias; undefined when none do. */
export function fallbackCaller(cfg: MeshConfig, log: Logger): RoleCaller | undefined {
  if (!cfg.litellm) return undefined;
  const backend = liteLLMBackend(cfg.litellm);
  const specialists = specialistsOf(cfg);
  const defaultSpecialist = defaultSpecialistOf(cfg);
  const handlers = new Map<string, RoleHandler>();
  for (const [role, rc] of Object.entries(cfg.roles)) {
    if (!rc.fallback) continue;
    handlers.set(
      role,
      roleHandler({
        role,
        host: "litellm",
        config: { ...rc, model: rc.fallback, backend: "openai" },
        backend,
        specialists,
        defaultSpecialist,
      }),
    );
  }
  return handlers.size ? localCaller(handlers, "litellm", log) : undefined;
}

/** Everything `startConductor` needs, from the mesh config: the role client, fallback, limits. */
export function conductorOptions(cfg: MeshConfig, mesh: Mesh, log: Logger): ConductorOptions {
  // First: a config without a committee is told so before anything else complains.
  const committee = committeeFromConfig(cfg);
  return {
    roles: createRoleClient(mesh),
    fallback: fallbackCaller(cfg, log),
    committee,
    streams: streamsFromConfig(cfg),
    history: { turns: cfg.conductor.history_turns, bytes: cfg.conductor.history_bytes },
    maxParallel: cfg.conductor.max_parallel,
    maxDeliver: cfg.conductor.max_deliver,
    ackWaitMs: cfg.conductor.ack_wait_ms,
    stepTimeoutMs: cfg.conductor.step_timeout_ms,
    atomicLog: cfg.conductor.atomic_log,
    shadowConcurrency: cfg.conductor.shadow_concurrency,
    ...(cfg.usage.budgets ? { budget: budgetFromConfig(cfg) } : {}),
  };
}

/** The per-user daily budgets of usage.budgets: a user's own entry, else the default. */
export function budgetFromConfig(cfg: MeshConfig): BudgetOptions {
  const b = cfg.usage.budgets!;
  return {
    limitsOf: (user) => (Object.hasOwn(b.users, user) ? b.users[user] : b.default),
    prices: cfg.usage.prices,
    bucket: b.bucket,
  };
}
