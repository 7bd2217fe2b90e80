/** `lyra serve` from the mesh config (the serve section, or its defaults) and the environment. */
import { ServeConfig, type MeshConfig } from "../../../schemas/index.ts";
import { readKeyFile, type Mesh, type Logger } from "../../../mesh/index.ts";
import { parseKeys, type Keys, type Rotation } from "./access.ts";
import { startServe, type ServeServer } from "./server.ts";

export interface ServeOverrides {
  listen?: string;
  port?: number;
}

/**
 * The API keys: from serve.keys_file when it is set (the environment is then not read: a running
 * process's environment keeps the keys it started with), else from the variable serve.keys_env
 * names; throws, naming the file or variable, when it holds none.
 */
export function keysFromConfig(cfg: MeshConfig, env: NodeJS.ProcessEnv = process.env, now?: () => number): Keys {
  const s = cfg.serve ?? ServeConfig.parse({});
  if (s.keys_file === undefined) return parseKeys(env[s.keys_env], s.keys_env, s.tenants, now);
  const keys = readKeyFile(s.keys_file, s.keys_env, "serve.keys_file");
  return parseKeys(keys.join(","), `the keys file ${s.keys_file} (serve.keys_file)`, s.tenants, now);
}

/** Warns about serve.tenants entries no key has (a removed key?). */
function warnGoneTenants(s: ServeConfig, keys: Keys, log: Logger): void {
  const known = new Set(keys.list().map((k) => k.keyId));
  for (const [tenant, ids] of Object.entries(s.tenants)) {
    const gone = ids.filter((id) => !known.has(id));
    if (gone.length)
      log.warn(
        { tenant, keyIds: gone },
        `serve.tenants.${tenant} names key ids no key in ${s.keys_file ?? s.keys_env} has (a removed key?); remove them from the config`,
      );
  }
}

/**
 * Re-reads the keys (SIGHUP): `cfg` is the config as it is now (its serve.tenants and keys file).
 * A key gone from the list keeps working for serve.key_grace_s; an unreadable or empty list leaves
 * the keys as they were and throws.
 */
export function reloadKeys(keys: Keys, cfg: MeshConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Rotation {
  const s = cfg.serve ?? ServeConfig.parse({});
  const r = keys.rotate(keysFromConfig(cfg, env), s.key_grace_s * 1000);
  // A retiring key that is a tenant of its own, and no current key of that tenant: its conversations pass to nobody.
  const solo = r.retiring.filter((c) => c.tenant === c.keyId && !keys.list().some((k) => k.tenant === c.tenant)).map((c) => c.keyId);
  log.info(
    { added: r.added, retiring: r.retiring, graceS: s.key_grace_s, keys: keys.list() },
    `keys reloaded: ${r.added.length} added, ${r.retiring.length} retiring (they work for ${s.key_grace_s} s more)`,
  );
  if (solo.length)
    log.warn(
      { keyIds: solo },
      "retiring keys that are tenants of their own: their conversations do not pass to the new keys; " +
        "to pass them on, set serve.tenants.<old key id>: [<old key id>, <new key id>] and reload again within the grace",
    );
  warnGoneTenants(s, keys, log);
  return r;
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
  warnGoneTenants(s, keys, log);
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
