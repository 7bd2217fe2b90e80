/** `lyra serve` from the mesh config (the serve section, or its defaults) and the environment. */
import { ServeConfig, type MeshConfig } from "../../../schemas/index.ts";
import type { Mesh, Logger } from "../../../mesh/index.ts";
import { parseKeys, type Keys } from "./access.ts";
import { startServe, type ServeServer } from "./server.ts";

export interface ServeOverrides {
  listen?: string;
  port?: number;
}

/** The API keys from the variable serve.keys_env names; throws, naming it, when it holds none. */
export function keysFromConfig(cfg: MeshConfig, env: NodeJS.ProcessEnv = process.env): Keys {
  const s = cfg.serve ?? ServeConfig.parse({});
  return parseKeys(env[s.keys_env], s.keys_env, s.tenants);
}

/** Starts the endpoint; throws, naming the variable, when the environment holds no key. */
export function serveFromConfig(
  cfg: MeshConfig,
  mesh: Mesh,
  log: Logger,
  over: ServeOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServeServer> {
  const s = cfg.serve ?? ServeConfig.parse({});
  const keys = keysFromConfig(cfg, env);
  const known = new Set(keys.list().map((k) => k.keyId));
  for (const [tenant, ids] of Object.entries(s.tenants)) {
    const gone = ids.filter((id) => !known.has(id));
    if (gone.length)
      log.warn(
        { tenant, keyIds: gone },
        `serve.tenants.${tenant} names key ids no key in ${s.keys_env} has (a removed key?); remove them from the config`,
      );
  }
  return startServe({
    mesh,
    log,
    roles: Object.keys(cfg.roles),
    keys,
    listen: over.listen ?? s.listen,
    port: over.port ?? s.port,
    timeoutMs: s.timeout,
    maxBody: s.max_body,
    rateLimit: s.rate_limit,
    graceMs: s.grace,
    headerTimeoutMs: s.header_timeout,
    bodyTimeoutMs: s.body_timeout,
    idleTimeoutMs: s.idle_timeout,
    maxConnections: s.max_connections,
  });
}
