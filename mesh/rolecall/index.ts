// Public surface of mesh/rolecall/: serve a role, call a role.
export { serveRole } from "./responder.ts";
export { createRoleClient, type RoleClientOptions } from "./client.ts";
export { createReplyRoutes, type ReplyInbox, type ReplyRoutes } from "./replies.ts";
export { DEFAULT_CALL_TIMEOUT_MS, OnOutage } from "./types.ts";
export { AGENT_SERVICE_NAME, LYRA_ENDPOINT, PROMPT_ENDPOINT, PROTOCOL_VERSION } from "./service.ts";
export type {
  CallOptions,
  ResponderEvent,
  ResponderOptions,
  RoleCallInput,
  RoleClient,
  RoleContext,
  RoleHandler,
  RoleResponder,
  Resumed,
  RoleResult,
  RoleStream,
} from "./types.ts";
