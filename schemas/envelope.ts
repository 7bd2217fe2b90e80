import { z } from "zod";
import { Attachment, attachmentParts } from "./attachments.ts";
import { Media } from "./media.ts";

/** Role names are subject tokens: lowercase letters, digits, '-'. */
export const RoleName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "role names use lowercase letters, digits and '-' (1-63 chars)")
  .refine((r) => !["inbox", "outbox", "log", "cancel", "state"].includes(r), "this role name is reserved");

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
  images: z
    .array(z.string().max(16 * 1024 * 1024))
    .max(16)
    .optional(),
  /**
   * Images the user sent with this turn, inline when small, else by LYRA_MEDIA reference (never
   * megabytes in a NATS message). The agent resolves them into `images` for a vision model.
   */
  media: z.array(Media).max(16).optional(),
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

/** Longest partial answer a re-issued request may carry to be continued (`resume.text`), in characters. */
export const RESUME_MAX_CHARS = 65_536;

/**
 * What a re-issued request carries when the replica that streamed part of its answer died: the
 * text already streamed, for the new replica to give the model as the start of its message.
 */
export const Resume = z.object({
  text: z.string().min(1).max(RESUME_MAX_CHARS),
});
export type Resume = z.infer<typeof Resume>;

/**
 * A role request: the NATS Agent Protocol 0.3 request (§5.1: `prompt`, `attachments`) is the base,
 * and Lyra's envelope is a superset of it (`messages`, options, tools, deadline...). Plain text is
 * promoted to `{ prompt }`. A request needs a non-empty `prompt` or, as Lyra's equivalent, at
 * least one entry in `messages`; without either it is a 400 (§5.3). Unknown fields are kept (§5.6).
 */
export const RoleRequest = z
  .looseObject({
    /** Request id; the Lyra-Request-Id header wins when both are present. */
    id: z.string().min(1).max(128).optional(),
    conversation: z.string().min(1).max(256).optional(),
    /** The spec's prompt text; MUST be non-empty when present (§5.1). */
    prompt: z.string().min(1).optional(),
    /** Files for the model (§5.2); only roles that advertise attachments_ok take them. */
    attachments: z.array(Attachment).max(64).optional(),
    messages: z.array(ChatMessage).max(10_000).optional(),
    options: ModelOptions.optional(),
    /** Tool grants: the tools this call may use. */
    tools: z.array(ToolSpec).max(128).optional(),
    /** JSON schema the answer must follow (schema-constrained output). */
    format: z.record(z.string(), z.unknown()).optional(),
    /** The end user the call is for (the inbox message's user.id): tools that keep per-user data scope by it. */
    user: z.string().min(1).max(256).optional(),
    /** Absolute deadline, epoch ms. */
    deadline: z.number().int().positive().optional(),
    stream: z.boolean().optional(),
    /** Set by a re-issue (mesh/rolecall/call.ts): the answer so far, to be continued, not restarted. */
    resume: Resume.optional(),
    /** The response cache (roles.<role>.cache): "bypass" answers afresh, and that answer replaces the cached one. */
    cache: z.enum(["bypass"]).optional(),
    /** The role variant to answer with (roles.<role>.variants), chosen by the conductor; absent: the role as configured. */
    variant: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "is not a variant name")
      .optional(),
  })
  .refine((r) => r.prompt !== undefined || (r.messages?.length ?? 0) > 0, {
    message: "a request needs a non-empty 'prompt' or at least one entry in 'messages'",
  });
export type RoleRequest = z.infer<typeof RoleRequest>;

/**
 * The messages a request stands for: `messages`, then `prompt` as a last user turn. Attachments
 * join the last user turn: images as its images, text files appended to its content. Throws
 * InvalidBodyError for an attachment that is neither (see attachmentKind).
 */
export function requestMessages(req: RoleRequest): ChatMessage[] {
  const msgs = [...(req.messages ?? [])];
  if (req.prompt !== undefined) msgs.push({ role: "user", content: req.prompt });
  if (!req.attachments?.length) return msgs;
  const { images, text } = attachmentParts(req.attachments);
  let i = msgs.findLastIndex((m) => m.role === "user");
  if (i < 0) i = msgs.push({ role: "user", content: "" }) - 1;
  const last = msgs[i]!;
  msgs[i] = { ...last, content: last.content + text, ...(images.length ? { images: [...(last.images ?? []), ...images] } : {}) };
  return msgs;
}
