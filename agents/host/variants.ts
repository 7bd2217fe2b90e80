/**
 * A role's variants on the agent host (roles.<role>.variants): the conductor chooses a
 * conversation's variant and names it in the request (`variant`); the host answers with that
 * variant's model, system prompt and backend, and says so in the final chunk. A request that names
 * none gets the role as configured (a direct call: `lyra serve`'s role models, a spec client).
 */
import { CallCode, type RoleConfig, type RoleRequest, type RoleVariant } from "../../schemas/index.ts";
import { roleCallError, type RoleContext, type RoleHandler } from "../../mesh/index.ts";
import type { ModelBackend } from "../backends/index.ts";
import type { RoleHandlerOptions } from "./handler.ts";

/** The role's config as one variant changes it. */
export function variantConfig(rc: RoleConfig, v: RoleVariant): RoleConfig {
  return {
    ...rc,
    model: v.model ?? rc.model,
    backend: v.backend ?? rc.backend,
    system_prompt: v.system ?? rc.system_prompt,
    variants: undefined,
  };
}

/**
 * The handler of a role with variants: each request answered by the variant it names, with that
 * variant's backend; `build` makes the handler of one configuration (handler.ts).
 */
export function variantsHandler(
  o: RoleHandlerOptions,
  backends: ReadonlyMap<string, ModelBackend>,
  build: (o: RoleHandlerOptions) => RoleHandler,
): RoleHandler {
  const variants = o.config.variants ?? [];
  const roleHandler = (h: RoleHandlerOptions) => build({ ...h, variantBackends: undefined });
  const base = roleHandler(o);
  const byName = new Map(
    variants.map((v) => [
      v.name,
      roleHandler({ ...o, config: variantConfig(o.config, v), backend: backends.get(v.name) ?? o.backend, variant: v.name }),
    ]),
  );
  const names = variants.map((v) => v.name).join(", ");
  return async function* (req: RoleRequest, ctx: RoleContext) {
    const h = req.variant === undefined ? base : byName.get(req.variant);
    if (!h)
      throw roleCallError(
        CallCode.BadRequest,
        o.role,
        `role '${o.role}' has no variant '${req.variant}' on this host (variants: ${names}); ` +
          "the agents and the conductor must run one config",
      );
    yield* h(req, ctx);
  };
}
