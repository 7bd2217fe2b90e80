import { z } from "zod";
import { Media } from "./media.ts";

/** Ids that become subject tokens (conversation, channel) or JetStream message ids. */
export const TokenId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "use 1-128 letters, digits, '_' or '-'");

/** A user message, as a front door publishes it to `lyra.inbox.<channel>.<conversation>`. */
export const InboxMessage = z.looseObject({
  /** The platform's message id; also the JetStream Nats-Msg-Id, so a re-send is deduplicated. */
  id: TokenId,
  channel: TokenId,
  conversation: TokenId,
  user: z.looseObject({ id: z.string().min(1).max(256), name: z.string().max(256).optional() }),
  text: z.string().min(1, "the message has no text").max(32_000),
  /** Epoch ms when the user sent it. */
  ts: z.number().int().positive().optional(),
  /** Images (or audio) the user sent with the message: inline when small, else by LYRA_MEDIA reference. */
  media: z.array(Media).max(16).optional(),
  /** "bypass": every role call of the turn answers afresh, not from the response cache (`lyra ask --no-cache`). */
  cache: z.enum(["bypass"]).optional(),
});
export type InboxMessage = z.infer<typeof InboxMessage>;

/** A reply on `lyra.outbox.<channel>.<conversation>` (stored) or its `.partial` subject (live). */
export const OutboxMessage = z.looseObject({
  conversation: z.string(),
  channel: z.string(),
  /** The inbox message this answers. */
  in_reply_to: z.string(),
  /** Final reply: the whole text. Partial: the next piece of text. */
  text: z.string(),
  final: z.boolean(),
  /** Which step produced a partial: "specialist" or "voice". */
  step: z.string().optional(),
  role: z.string().optional(),
  specialist: z.string().optional(),
  backend: z.string().optional(),
  /** Set when something failed and this reply says so. */
  error: z.string().optional(),
  /** Images and audio the reply carries (the artist's, speech): inline when small, else by LYRA_MEDIA reference. */
  media: z.array(Media).max(16).optional(),
  ts: z.number(),
});
export type OutboxMessage = z.infer<typeof OutboxMessage>;

/** What the router answers (schema-constrained output). */
export const RouterChoice = z.object({
  specialist: z.string().min(1),
  confidence: z.number().min(0).max(1),
  reason: z.string(),
  /** Who chose: the embedding classifier alone, or the LLM router; absent when neither did (the default specialist). */
  decided_by: z.enum(["classifier", "llm"]).optional(),
  /** The classifier's confidence (0..1), when it ran: the choice's own when it decided, else why it handed over. */
  classifier_confidence: z.number().min(0).max(1).optional(),
});
export type RouterChoice = z.infer<typeof RouterChoice>;

const StepMeta = {
  host: z.string().optional(),
  /** The caller's routing decision and its reason ("gpu-2: model warm, 1 of 2 slots free"). */
  route: z.string().optional(),
  /** Where the answer resumed after its replica died mid-answer: at `at` characters, from host `from` to host `to`. */
  resumed: z
    .array(z.object({ at: z.number().int().nonnegative(), from: z.string(), to: z.string() }))
    .max(16)
    .optional(),
  backend: z.string().optional(),
  model: z.string().optional(),
  /** Completion tokens (the same as tokens_out; kept for readers of older events). */
  tokens: z.number().int().nonnegative().optional(),
  /** The call's usage as its backend reported it: prompt tokens in, completion tokens out (`lyra usage` sums these). */
  tokens_in: z.number().int().nonnegative().optional(),
  tokens_out: z.number().int().nonnegative().optional(),
  /** Set when the backend could not report a count and it was estimated (4 characters a token). */
  tokens_estimated: z.boolean().optional(),
  /** The user whose turn or call this was (the inbox message's user.id), and the role that answered. */
  user: z.string().optional(),
  role: z.string().optional(),
  latency_ms: z.number().nonnegative().optional(),
  /** The role call's response cache outcome (FinalInfo.cache): "exact" or "semantic" for a hit. */
  cache: z.string().optional(),
  cache_similarity: z.number().optional(),
  /** A role with variants: the variant this conversation was given (rollout and A/B). */
  variant: z.string().optional(),
  /** Time to the answer's first token on the agent, ms. */
  first_token_ms: z.number().nonnegative().optional(),
  /** Set when the agent's LiteLLM fallback answered: why. */
  fallback: z.string().optional(),
};
const ToolMeta = {
  server: z.string().optional(),
  call: z.string().optional(),
  /** ok, error, timeout, refused, unknown, unavailable, cancelled (tool_result only). */
  status: z.string().optional(),
  /** tool_result: media the tool produced (references), so a re-run turn still attaches them to the reply. */
  media: z.array(Media).max(16).optional(),
  /** tool_result: answered from the tool host's result cache. */
  cached: z.boolean().optional(),
};
const base = {
  ts: z.number(),
  conversation: z.string(),
  /** The inbox message id of the turn this event belongs to. */
  turn: z.string(),
  /** The W3C trace id of the turn (from the front door's traceparent), when it had one. */
  trace_id: z.string().optional(),
};

/** Events appended to `lyra.log.<conversation>`: one per step, with a deterministic message id. */
export const LogEvent = z.discriminatedUnion("type", [
  z.looseObject({
    ...base,
    type: z.literal("user_message"),
    channel: z.string(),
    user: z.looseObject({ id: z.string() }),
    text: z.string(),
    media: z.array(Media).max(16).optional(),
  }),
  z.looseObject({
    ...base,
    ...StepMeta,
    type: z.literal("routed"),
    specialist: z.string(),
    confidence: z.number(),
    reason: z.string(),
    decided_by: RouterChoice.shape.decided_by,
    classifier_confidence: z.number().optional(),
  }),
  z.looseObject({ ...base, type: z.literal("specialist_started"), specialist: z.string() }),
  z.looseObject({
    ...base,
    ...StepMeta,
    type: z.literal("specialist_finished"),
    specialist: z.string(),
    text: z.string(),
    /** Pipelined voice: where in `text` the voiced part starts (after the last tool step); absent: 0. */
    voice_from: z.number().int().nonnegative().optional(),
  }),
  // A specialist's mesh tool call and its result: `server` and `tool` (its own name), `call` the call id.
  z.looseObject({
    ...base,
    ...StepMeta,
    ...ToolMeta,
    type: z.literal("tool_call"),
    role: z.string(),
    tool: z.string(),
    arguments: z.unknown(),
  }),
  z.looseObject({
    ...base,
    ...StepMeta,
    ...ToolMeta,
    type: z.literal("tool_result"),
    role: z.string(),
    tool: z.string(),
    outcome: z.string(),
    is_error: z.boolean().optional(),
  }),
  // Pipelined voice: piece `index` of the draft (one or more segments) and its rewrite (`text`); the reply is the rewrites in order.
  z.looseObject({
    ...base,
    ...StepMeta,
    type: z.literal("voice_segment"),
    index: z.number().int().nonnegative(),
    draft: z.string(),
    text: z.string(),
  }),
  /**
   * `segments`: how many voice_segment events the reply joins (pipelined voice); absent: one voice call.
   * With segments its tokens are the segments' sums (`lyra usage` counts the segments, not this).
   */
  z.looseObject({ ...base, ...StepMeta, type: z.literal("voice_reply"), text: z.string(), segments: z.number().int().optional() }),
  z.looseObject({ ...base, type: z.literal("fallback_used"), role: z.string(), reason: z.string(), backend: z.string().optional() }),
  z.looseObject({
    ...base,
    type: z.literal("error"),
    step: z.string(),
    code: z.string(),
    message: z.string(),
    /** The failed role and its variant, when the role has variants. */
    role: z.string().optional(),
    variant: z.string().optional(),
  }),
  /**
   * A role call made outside a turn (a direct `lyra/<role>` call through `lyra serve`), on
   * `lyra.log.usage.<channel>`: `turn` is its request id, `conversation` its conversation or "".
   */
  z.looseObject({ ...base, ...StepMeta, type: z.literal("usage"), channel: z.string() }),
  /**
   * A shadow variant's answer to a step's request, made in the background and never shown: its text
   * (or `error`), timings, and the primary answer it is compared with (`lyra compare`).
   */
  z.looseObject({
    ...base,
    ...StepMeta,
    type: z.literal("shadow_answer"),
    role: z.string(),
    step: z.string(),
    variant: z.string(),
    text: z.string(),
    error: z.string().optional(),
    primary: z
      .looseObject({ variant: z.string().optional(), text: z.string(), latency_ms: z.number().optional(), error: z.string().optional() })
      .optional(),
  }),
]);
export type LogEvent = z.infer<typeof LogEvent>;

/** Published to `lyra.dead.<channel>` when an inbox message is given up on. */
export const DeadLetter = z.looseObject({
  ts: z.number(),
  stream_seq: z.number(),
  subject: z.string(),
  deliveries: z.number(),
  reason: z.string(),
  /** The original body, base64, so nothing is lost. */
  body_b64: z.string(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;
