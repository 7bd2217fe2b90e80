// Public surface of schemas/: zod schemas, the codec and wire constants. Depends on nothing else
// in the project.
export {
  wireFormOf,
  isWireCode,
  Header,
  Encoding,
  ContentType,
  WireCode,
  CallCode,
  wireErrorName,
  SHUTTING_DOWN,
  REQUEST_ID_CONFLICT,
} from "./wire.ts";
export { requestMessages, RoleName, ToolCall, ChatMessage, ToolSpec, ModelOptions, RoleRequest } from "./envelope.ts";
export { Resume, RESUME_MAX_CHARS } from "./envelope.ts";
export { attachmentKind, attachmentParts, Attachment, AttachmentKind } from "./attachments.ts";
export { sniffMedia, MAX_MEDIA_BYTES, INLINE_MEDIA_MAX_BYTES, MediaKind, Media } from "./media.ts";
export {
  responseText,
  Usage,
  Timings,
  FinalInfo,
  ToolCallEvent,
  ToolResult,
  StatusChunk,
  ResponseChunk,
  ToolCallChunk,
  ToolResultChunk,
  FinalChunk,
  Chunk,
  KnownChunkTypes,
  Status,
  ErrorBody,
} from "./frames.ts";
export { contentTypeOf, encodingOf, encode, decode, validate, assertFits } from "./codec.ts";
export type { Decoded } from "./codec.ts";
export { SchemaError, InvalidBodyError, PayloadTooLargeError } from "./errors.ts";
export { TokenId, InboxMessage, OutboxMessage, RouterChoice, LogEvent, DeadLetter } from "./conversation.ts";
export {
  normalizeOllamaUrl,
  parseMeshConfig,
  loadMeshConfig,
  RoleKind,
  DEFAULT_OLLAMA_URL,
  DEFAULT_NATS_URL,
  DEFAULT_LITELLM_KEY_ENV,
  TOOL_CACHE_DEFAULTS,
  ScriptRule,
  ToolServerName,
  ToolGrant,
  ToolServerConfig,
  RoleConfig,
  RoleVariant,
  VariantName,
  weightProblem,
  RouterClassifierConfig,
  ResponseCacheConfig,
  HostConfig,
  LiteLLMRouterConfig,
  ServeConfig,
  DiscordConfig,
  UsageConfig,
  ModelPrice,
  DailyBudget,
  MeshConfig,
  KEY_ID_RE,
  ConfigError,
} from "./config.ts";
export type { ParseConfigOptions } from "./config.ts";
export { ReplicaState } from "./state.ts";
