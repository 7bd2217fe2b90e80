/** OpenAI's response objects: `chat.completion`, `chat.completion.chunk`, `list` of models. */

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export const usage = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
});

/**
 * Tokens of a text, estimated (about four characters a token in English): the committee spans
 * several models, none of which counts the user's message and the final reply as such.
 */
export const estimateTokens = (text: string): number => (text ? Math.max(1, Math.ceil(text.length / 4)) : 0);

export type FinishReason = "stop" | "length";

export function completion(
  id: string,
  model: string,
  created: number,
  text: string,
  finish: FinishReason,
  u: Usage,
  lyra: Record<string, unknown>,
) {
  return {
    id,
    object: "chat.completion" as const,
    created,
    model,
    choices: [{ index: 0, message: { role: "assistant" as const, content: text, refusal: null }, logprobs: null, finish_reason: finish }],
    usage: u,
    /** Lyra's own details (conversation, message id, specialist); OpenAI clients ignore them. */
    lyra,
  };
}

export interface ChunkParts {
  role?: "assistant";
  content?: string;
  finish?: FinishReason;
  /** Lyra's own details on the finish chunk (a streamed role answer's response cache outcome); OpenAI clients ignore them. */
  lyra?: Record<string, unknown>;
}

/** One SSE event's JSON; `usage: null` on every chunk but the last when usage was asked for. */
export function chunk(id: string, model: string, created: number, p: ChunkParts, withUsage: boolean) {
  const delta: Record<string, string> = {};
  if (p.role) delta.role = p.role;
  if (p.content !== undefined) delta.content = p.content;
  return {
    id,
    object: "chat.completion.chunk" as const,
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: p.finish ?? null }],
    ...(withUsage ? { usage: null } : {}),
    ...(p.lyra ? { lyra: p.lyra } : {}),
  };
}

/** The last chunk when `stream_options.include_usage` is set: no choices, the usage. */
export function usageChunk(id: string, model: string, created: number, u: Usage) {
  return { id, object: "chat.completion.chunk" as const, created, model, choices: [], usage: u };
}

export function modelList(ids: string[], created: number) {
  return { object: "list" as const, data: ids.map((id) => modelObject(id, created)) };
}

export const modelObject = (id: string, created: number) => ({ id, object: "model" as const, created, owned_by: "lyra" });
