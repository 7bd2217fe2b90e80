import { z } from "zod";
import { ToolCall } from "./envelope.ts";
import { Media } from "./media.ts";

/**
 * Reply chunks. The shape is the NATS Agent Protocol 0.3 wrapper `{ type, data }` (§6.2):
 * `response` chunks concatenate into the answer, `status` chunks are lifecycle signals
 * ("ack", then keep-alives such as "queued", "loading", "working"). Lyra adds `tool_call`,
 * `tool_result` and `final`; clients ignore chunk types they do not know.
 */
export const Usage = z.looseObject({
  prompt_tokens: z.number().int().nonnegative().default(0),
  completion_tokens: z.number().int().nonnegative().default(0),
  /** True when a count is an estimate (the backend did not report it: an Ollama answer cut at the end of its JSON). */
  estimated: z.boolean().optional(),
});
export type Usage = z.infer<typeof Usage>;

export const Timings = z.looseObject({
  /** Wall time of the whole call on the agent, ms. */
  total_ms: z.number().nonnegative(),
  /** Time to the first content token, ms. */
  first_token_ms: z.number().nonnegative().optional(),
  /** Model load time reported by the backend, ms. */
  load_ms: z.number().nonnegative().optional(),
  /** Time the backend spent reading the prompt (Ollama prompt_eval_duration), ms; a warm prefix cache makes it small. */
  prompt_eval_ms: z.number().nonnegative().optional(),
});
export type Timings = z.infer<typeof Timings>;

/** What answered and how: sent as the `final` chunk, or inside a non-streamed `response`. */
export const FinalInfo = z.looseObject({
  model: z.string(),
  backend: z.string(),
  host: z.string(),
  role: z.string().optional(),
  usage: Usage,
  timings: Timings,
  /** Set when the fallback backend answered, with why. */
  fallback: z.looseObject({ reason: z.string(), from: z.string() }).optional(),
  done_reason: z.string().optional(),
  /** Set when the answer continued a re-issued request's partial answer (`resume`): that text's length. */
  resumed_at: z.number().int().nonnegative().optional(),
  /**
   * The response cache, on a role that has one: a hit ("exact", "semantic"), "miss", "bypass", or
   * "uncached" (not cacheable). A string, not an enum: a caller tolerates values it does not know.
   */
  cache: z.string().optional(),
  /** A semantic hit: the cosine similarity of the two last user messages (0..1). */
  cache_similarity: z.number().optional(),
  /** The role variant that answered (the request's `variant`), when the role has variants. */
  variant: z.string().optional(),
});
export type FinalInfo = z.infer<typeof FinalInfo>;

/** Where a mesh tool call ran and who made it; set by the agent host's tool loop. */
const ToolWhere = {
  /** The tool server (`clock`) and the tool's own name (`now`); `name` is the model's `server__tool`. */
  server: z.string().optional(),
  tool: z.string().optional(),
  /** The agent host whose specialist made the call. */
  host: z.string().optional(),
};

/** A `tool_call` chunk: the model's call, plus where it goes. */
export const ToolCallEvent = ToolCall.extend(ToolWhere);
export type ToolCallEvent = z.infer<typeof ToolCallEvent>;

export const ToolResult = z.looseObject({
  id: z.string(),
  name: z.string(),
  /** The text the model was given. */
  content: z.string(),
  is_error: z.boolean().optional(),
  ...ToolWhere,
  /** ok, error (the tool said so), timeout, refused (not granted), unknown, unavailable, cancelled. */
  status: z.string().optional(),
  latency_ms: z.number().nonnegative().optional(),
  /** Images and audio the tool produced (its structuredContent.media): the conductor attaches them to the reply. */
  media: z.array(Media).max(16).optional(),
  /** The tool host answered from its result cache (the tool did not run). */
  cached: z.boolean().optional(),
});
export type ToolResult = z.infer<typeof ToolResult>;

export const StatusChunk = z.object({ type: z.literal("status"), data: z.string() });
export const ResponseChunk = z.object({
  type: z.literal("response"),
  data: z.union([z.string(), z.looseObject({ text: z.string() })]),
});
export const ToolCallChunk = z.object({ type: z.literal("tool_call"), data: ToolCallEvent });
export const ToolResultChunk = z.object({ type: z.literal("tool_result"), data: ToolResult });
export const FinalChunk = z.object({ type: z.literal("final"), data: FinalInfo });

export const Chunk = z.discriminatedUnion("type", [StatusChunk, ResponseChunk, ToolCallChunk, ToolResultChunk, FinalChunk]);
export type Chunk = z.infer<typeof Chunk>;
export const KnownChunkTypes: ReadonlySet<string> = new Set(["status", "response", "tool_call", "tool_result", "final"]);

/** Status tokens Lyra sends. "ack" is the Agent Protocol's; the rest are keep-alives. */
export const Status = { Ack: "ack", Queued: "queued", Loading: "loading", Working: "working" } as const;
export type Status = (typeof Status)[keyof typeof Status];

/** The text of a response chunk, in either of its two forms. */
export function responseText(c: z.infer<typeof ResponseChunk>): string {
  return typeof c.data === "string" ? c.data : c.data.text;
}

/** The body of an error message (after the error headers). */
export const ErrorBody = z.looseObject({
  error: z.string(),
  message: z.string().optional(),
  retry_after_s: z.number().nonnegative().optional(),
  /** Lyra extension: 408, 413 or 503 when the code on the wire stands for one of those (CallCode). */
  lyra_status: z.number().int().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
