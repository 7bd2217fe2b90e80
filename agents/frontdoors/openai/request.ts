/**
 * The body of `POST /v1/chat/completions`, validated with zod. Fields OpenAI defines that Lyra
 * cannot honour (n > 1, client-side tools, logprobs, structured output) are refused with a 400
 * that names them; sampling penalties and bookkeeping fields are accepted and ignored; any other
 * field is refused, as OpenAI does, so a typo ("strem") is not silently ignored.
 */
import { z } from "zod";
import { badRequest, OpenAIError } from "./errors.ts";

/** The longest user message the inbox takes (InboxMessage.text). */
export const MAX_TEXT = 32_000;
/** The longest `user`: with the tenant (at most 31) and '_' it fits the mesh's 256-character user id. */
export const MAX_USER = 224;

const TextPart = z.strictObject({ type: z.literal("text"), text: z.string() });
const Part = z.looseObject({ type: z.string() }).superRefine((part, ctx) => {
  if (part.type !== "text")
    ctx.addIssue({ code: "custom", message: `content parts of type '${part.type}' are not supported by lyra serve; send text parts` });
  else if (!TextPart.safeParse(part).success) ctx.addIssue({ code: "custom", message: "a text part is { type: 'text', text: string }" });
});
const Content = z.union([z.string(), z.array(Part).max(256)], { error: "content must be a string or an array of text parts" });

const Message = z.discriminatedUnion(
  "role",
  [
    z.strictObject({ role: z.enum(["system", "developer"]), content: Content, name: z.string().max(256).optional() }),
    z.strictObject({ role: z.literal("user"), content: Content, name: z.string().max(256).optional() }),
    z.strictObject({
      role: z.literal("assistant"),
      content: Content.nullable().optional(),
      name: z.string().max(256).optional(),
      refusal: z.string().nullable().optional(),
      tool_calls: z.array(z.unknown()).max(64).optional(),
    }),
    z.strictObject({ role: z.literal("tool"), content: Content, tool_call_id: z.string().min(1, "tool messages need their tool_call_id") }),
  ],
  { error: "role must be one of system, developer, user, assistant, tool" },
);
export type ChatRequestMessage = z.infer<typeof Message>;

const unsupported = (what: string) => z.any().refine(() => false, `${what} is not supported by lyra serve`);

export const ChatCompletionRequest = z.strictObject({
  model: z
    .string({ error: "model is required: 'lyra' (the committee) or 'lyra/<role>' (GET /v1/models lists them)" })
    .min(1, "model must not be empty"),
  messages: z
    .array(Message, { error: "messages is required: an array of { role, content }" })
    .min(1, "messages must hold at least one message")
    .max(10_000),
  stream: z.boolean().optional(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  max_tokens: z.number().int("must be a whole number").positive().max(1_000_000).nullable().optional(),
  max_completion_tokens: z.number().int("must be a whole number").positive().max(1_000_000).nullable().optional(),
  seed: z.number().int("must be a whole number").nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)], { error: "stop is a string or a list of at most 4 strings" })
    .nullable()
    .optional(),
  n: z.literal(1, "n must be 1: lyra serve answers with one choice").nullable().optional(),
  /** The end user (within the key's tenant); also the conversation when no X-Lyra-Conversation header is sent. */
  user: z.string().min(1, "user must not be empty").max(MAX_USER, `user must be at most ${MAX_USER} characters`).optional(),
  response_format: z
    .strictObject({ type: z.literal("text", "response_format must be { type: 'text' }: structured output is not supported by lyra serve") })
    .optional(),
  // Accepted and ignored: they change nothing Lyra's models are asked.
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.boolean().nullable().optional(),
  parallel_tool_calls: z.boolean().optional(),
  service_tier: z.string().nullable().optional(),
  // Refused: Lyra's roles use the mesh's own tools; there is one choice and no log probabilities.
  tools: unsupported("tools (client-side function calling)").optional(),
  tool_choice: unsupported("tool_choice").optional(),
  functions: unsupported("functions").optional(),
  function_call: unsupported("function_call").optional(),
  logprobs: z.literal(false, "logprobs are not supported by lyra serve").nullable().optional(),
  top_logprobs: unsupported("top_logprobs").optional(),
  modalities: unsupported("modalities").optional(),
  audio: unsupported("audio").optional(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** Validates a parsed JSON body; throws a 400 OpenAIError naming the first bad field. */
export function parseChatRequest(raw: unknown): ChatCompletionRequest {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw badRequest("the request body must be a JSON object", undefined, "invalid_body");
  const r = ChatCompletionRequest.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const param = paramOf(issue.path);
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0]!;
      const at = param ? `${param}.${key}` : key;
      throw badRequest(`Unrecognized request argument supplied: ${at}`, at, "unknown_parameter");
    }
    throw badRequest(`${param || "body"}: ${issue.message}`, param || undefined);
  }
  const req = r.data;
  if (req.stream_options && !req.stream) throw badRequest("stream_options is only allowed when stream is true", "stream_options");
  return req;
}

/** The text of a message's content (text parts joined). */
export function contentText(content: ChatRequestMessage["content"]): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((p) => (p as { text?: string }).text ?? "").join("");
}

/** `messages[0].content` as OpenAI writes a parameter path. */
function paramOf(path: PropertyKey[]): string {
  return path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), "");
}

export { OpenAIError };
