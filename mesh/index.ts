// Public surface of mesh/: the connection, subjects and streams, role calls (rolecall/), the
// conductor (conductor/), mesh users and permissions (auth/), media, discovery, logs and traces.
// Knows NATS and schemas/, nothing of models or tools. tools/ and agents/ import mesh/ only here;
// what is not listed is private to the folder. otlp.ts is not listed: telemetry.ts loads it only
// when OTLP export is switched on.
export { connectMesh, type Mesh, type MeshOptions } from "./connect.ts";
export { subjects, roleOfSubject, parseMcpSubject, mcpNameToken, MCP_UNSET, type McpSubject } from "./subjects.ts";
export { consumeDurable, ensureStreams, StreamName, type StreamsConfig } from "./streams.ts";
export { streamsFromConfig } from "./streams-config.ts";
export { encodeBody, decodeBody } from "./body.ts";
export { publishInbox, watchReplies, storedReply, lastStoredReply, type ReplyWatch } from "./frontdoor.ts";
export { discoverRoles, queryServices, type DiscoveredRole, type DiscoverOptions } from "./discovery.ts";
export { lifecycle, type Closable, type Drainable } from "./lifecycle.ts";
export { serveMetrics } from "./metrics-server.ts";
export { natsReadiness, readinessOf, type Readiness, type ReadinessCheck } from "./readiness.ts";
export {
  chooseVariant,
  shadowsOf,
  watchRollout,
  setRollout,
  clearRollout,
  storedRollout,
  parseRollout,
  ROLLOUT_BUCKET,
  RolloutRecord,
  type Rollout,
  type VariantPick,
  type VariantWeight,
} from "./rollout.ts";
export {
  mediaStore,
  putMedia,
  readMedia,
  statMedia,
  mediaUri,
  MEDIA_BUCKET,
  MEDIA_URI_PREFIX,
  DEFAULT_MEDIA_MAX_AGE_MS,
  type MediaStoreOptions,
  type PutMediaOptions,
} from "./media.ts";
export { createLogger, silentLogger, type Logger, type LoggerConfig } from "./logger.ts";
export {
  enableOtlp,
  tracer,
  rootTraceparent,
  traceIdOf,
  type OtlpOptions,
  type Span,
  type SpanAttributes,
  type SpanKind,
  type TraceContext,
  type Tracer,
} from "./telemetry.ts";
export {
  MeshError,
  ConnectionClosedError,
  RoleCallError,
  BadRequestError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  DeadlineExceededError,
  ConflictError,
  BusyError,
  InternalError,
  ReplyTooLargeError,
  UnavailableError,
  CancelledError,
  roleCallError,
  isNoResponders,
} from "./errors.ts";
export {
  serveRole,
  createRoleClient,
  createReplyRoutes,
  DEFAULT_CALL_TIMEOUT_MS,
  OnOutage,
  AGENT_SERVICE_NAME,
  PROMPT_ENDPOINT,
  PROTOCOL_VERSION,
  type RoleClientOptions,
  type ReplyInbox,
  type ReplyRoutes,
  type CallOptions,
  type ResponderEvent,
  type ResponderOptions,
  type RoleCallInput,
  type RoleClient,
  type RoleContext,
  type RoleHandler,
  type RoleResponder,
  type RoleResult,
  type RoleStream,
} from "./rolecall/index.ts";
// RoleResult and RoleStream of conductor/ are rolecall/'s, listed above.
export {
  CONDUCTOR_DURABLE,
  startConductor,
  buildHistory,
  readConversation,
  createCoreMetrics,
  type Conductor,
  type ConductorOptions,
  type ConductorEvent,
  type HistoryLimits,
  type CommitteeConfig,
  type SegmentOptions,
  type RoleCaller,
  type RoleCallOptions,
  type CoreMetrics,
  type CoreLive,
  openBudgets,
  DEFAULT_BUDGET_BUCKET,
  type BudgetOptions,
  type Budgets,
  type DailyLimits,
} from "./conductor/index.ts";
export {
  meshUsers,
  inboxPrefixOf,
  claimsBucket,
  responseCacheBucket,
  renderAuthConf,
  FRONT_DOORS,
  CLI_CHANNEL,
  DISCORD_STATE_BUCKETS,
  ProcessKind,
  MESH_ACCOUNT,
  RESPONSE_EXPIRES,
  RESPONSE_MAX_MSGS,
  type MeshUser,
  type AuthUser,
} from "./auth/index.ts";
export {
  costOf,
  usageRecord,
  summarizeUsage,
  utcDay,
  nextUtcMidnight,
  UsageBy,
  type Price,
  type PriceTable,
  type UsageRecord,
  type UsageRow,
} from "./usage.ts";
export { parseKeyFile, readKeyFile } from "./key-file.ts";
export { cacheBucket, stableDigest, stableJson, type BoundedKv, type CacheBucketOptions } from "./kv-cache.ts";
