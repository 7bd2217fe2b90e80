import { z } from "zod";

/** Role names are subject tokens: lowercase letters, digits, '-'. */
export const RoleName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "role names use lowercase letters, digits and '-' (1-63 chars)")
  .refine((r) => !["inbox", "outbox", "log", "cancel"].includes(r), "this role name is reserved");

export const ToolCall = z.looseObject({
  id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  arguments: z.record(z.string(), z.unknown()),
});
export type ToolCall = z.infer<typeof ToolCall>;

export const ChatMessage = z.looseObject({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string(),
  /** Base64 images for vision models. */
  images: z.array(z.string().max(16 * 1024 * 1024)).max(16).optional(),
  tool_calls: z.array(ToolCall).max(64).optional(),
  /** For role 'tool': the call this message answers. */
  tool_call_id: z.string().optional(),
  tool_name: z.string().optional(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

/** A tool the model may call: name, description, JSON schema of its arguments. */
export const ToolSpec = z.looseObject({
  name: z.string().min(1).max(256),
  description: z.string().max(8192).default(""),
  parameters: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }),
});
export type ToolSpec = z.infer<typeof ToolSpec>;

export const ModelOptions = z.looseObject({
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.number().int().positive().max(1_000_000).optional(),
  num_ctx: z.number().int().positive().max(10_000_000).optional(),
  seed: z.number().int().optional(),
  stop: z.array(z.string()).max(16).optional(),
});
export type ModelOptions = z.infer<typeof ModelOptions>;

/**
 * A role request. A NATS Agent Protocol client sends `{ prompt }` (or plain text, promoted to
 * that); Lyra callers send `messages`. Unknown fields are tolerated and kept.
 */
export const RoleRequest = z
  .looseObject({
    /** Request id; the Lyra-Request-Id header wins when both are present. */
    id: z.string().min(1).max(128).optional(),
    conversation: z.string().min(1).max(256).optional(),
    prompt: z.string().min(1).optional(),
    messages: z.array(ChatMessage).max(10_000).optional(),
    options: ModelOptions.optional(),
    /** Tool grants: the tools this call may use. */
    tools: z.array(ToolSpec).max(128).optional(),
    /** JSON schema the answer must follow (schema-constrained output). */
    format: z.record(z.string(), z.unknown()).optional(),
    /** Absolute deadline, epoch ms. */
    deadline: z.number().int().positive().optional(),
    stream: z.boolean().optional(),
  })
  .refine((r) => r.prompt !== undefined || (r.messages?.length ?? 0) > 0, {
    message: "a request needs a non-empty 'prompt' or at least one entry in 'messages'",
  });
export type RoleRequest = z.infer<typeof RoleRequest>;

/** The messages a request stands for: `messages`, then `prompt` as a last user turn. */
export function requestMessages(req: RoleRequest): ChatMessage[] {
  const msgs = [...(req.messages ?? [])];
  if (req.prompt !== undefined) msgs.push({ role: "user", content: req.prompt });
  return msgs;
}
