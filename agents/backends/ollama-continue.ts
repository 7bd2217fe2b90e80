/**
 * Continuing a final assistant message on Ollama (a resumed answer). Ollama's /api/chat continues
 * it only when the model's template leaves a last assistant message open (templates written with
 * `$last`, as Ollama's library templates for Llama 3.x, Qwen and others are). A template that
 * closes every message, as the ChatML one Ollama derives for a bare GGUF (SmolLM2) does, makes the
 * model start a new message instead; for ChatML the backend renders the prompt itself and sends it
 * raw to /api/generate, with the last message left open. Other templates cannot continue.
 */
import type { ChatResponse, GenerateRequest, GenerateResponse } from "ollama";
import type { ChatMessage } from "../../schemas/index.ts";
import { toOllamaChat } from "./ollama-map.ts";
import type { ModelRequest } from "./types.ts";

/** How a model's template continues a final assistant message: natively, by a raw ChatML prompt, or not at all. */
export const Continuation = { Native: "native", ChatML: "chatml", None: "none" } as const;
export type Continuation = (typeof Continuation)[keyof typeof Continuation];

/** What a model's template (POST /api/show `template`) allows. */
export function continuationOf(template: string | undefined): Continuation {
  if (!template) return Continuation.None;
  if (template.includes("$last")) return Continuation.Native;
  if (template.includes("<|im_start|>") && template.includes("<|im_end|>")) return Continuation.ChatML;
  return Continuation.None;
}

/** Whether a request asks to continue its last message (a resumed answer). */
export function continues(req: ModelRequest): boolean {
  return req.messages.at(-1)?.role === "assistant";
}

/** Whether the raw ChatML path can carry the request: text only, no tools, no structured output. */
export function chatmlFits(req: ModelRequest): boolean {
  return !req.tools?.length && !req.format && req.messages.every((m) => !m.images?.length && !m.tool_calls?.length);
}

/** The ChatML prompt of the messages, the last (assistant) one left open so the model continues it. */
export function chatmlPrompt(messages: readonly ChatMessage[]): string {
  const last = messages.length - 1;
  return messages.map((m, i) => `<|im_start|>${m.role}\n${m.content}${i === last ? "" : "<|im_end|>\n"}`).join("");
}

/** The raw /api/generate request that continues a ChatML request's last message, with the chat's options. */
export function chatmlGenerate(req: ModelRequest, keepAlive: string | number | undefined): GenerateRequest {
  const { messages: _m, truncate: _t, tools: _tools, format: _f, ...rest } = toOllamaChat(req, keepAlive);
  return { ...rest, prompt: chatmlPrompt(req.messages), raw: true };
}

/** A /api/generate record in the shape of a /api/chat one, for the chat reader. */
export function asChatRecord(g: GenerateResponse): ChatResponse {
  return { ...g, message: { role: "assistant", content: g.response } } as unknown as ChatResponse;
}
