// Public surface of agents/frontdoors/openai/: `lyra serve`, the OpenAI-compatible endpoint.
export { startServe, type ServeOptions, type ServeServer } from "./server.ts";
export { parseKeys, type Keys, type Rotation } from "./access.ts";
export { keysFromConfig, reloadKeys, serveFromConfig } from "./from-config.ts";
export { CHANNEL } from "./committee-model.ts";
export { CONVERSATION_HEADER } from "./conversation.ts";
