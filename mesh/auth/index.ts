export {
  meshUsers,
  inboxPrefixOf,
  claimsBucket,
  responseCacheBucket,
  FRONT_DOORS,
  CLI_CHANNEL,
  DISCORD_STATE_BUCKETS,
  ProcessKind,
} from "./permissions.ts";
export type { MeshUser } from "./permissions.ts";
export { renderAuthConf, MESH_ACCOUNT, SYSTEM_ACCOUNT, RESPONSE_EXPIRES, RESPONSE_MAX_MSGS } from "./server-conf.ts";
export type { AuthUser } from "./server-conf.ts";
