// Public surface of schemas/: zod schemas, the codec and wire constants. Depends on nothing else
// in the project.
export * from "./wire.ts";
export * from "./envelope.ts";
export * from "./attachments.ts";
export * from "./media.ts";
export * from "./frames.ts";
export * from "./codec.ts";
export * from "./errors.ts";
export * from "./conversation.ts";
export * from "./config.ts";
export * from "./state.ts";
