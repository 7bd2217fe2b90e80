/** Translation between Lyra's model request and the OpenAI chat completions API, and its errors. */
import { APIConnectionError, APIError, AuthenticationError, NotFoundError, PermissionDeniedError, RateLimitError } from "openai";
import type {
  ChatCompletionContentPart,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import type { ChatMessage, ToolCall } from "../../schemas/index.ts";
import {
  AbortedError,
  BackendAuthError,
  BackendBusyError,
  BackendError,
  BackendUnavailableError,
  FirstTokenTimeoutError,
  ModelNotFoundError,
} from "../errors.ts";
import { isConnectionError } from "./abort.ts";
import type { ModelRequest } from "./types.ts";

export function toOpenAIParams(req: ModelRequest): ChatCompletionCreateParamsStreaming {
  const o = req.options ?? {};
  return {
    model: req.model,
    messages: req.messages.map(toOpenAIMessage),
    stream: true,
    stream_options: { include_usage: true },
    ...(req.tools?.length
      ? {
          tools: req.tools.map((t) => ({
            type: "function" as const,
            function: { name: t.name, description: t.description, parameters: t.parameters },
          })),
        }
      : {}),
    ...(req.format
      ? { response_format: { type: "json_schema" as const, json_schema: { name: "answer", schema: req.format, strict: true } } }
      : {}),
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.top_p !== undefined ? { top_p: o.top_p } : {}),
    ...(o.max_tokens !== undefined ? { max_tokens: o.max_tokens } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.stop !== undefined ? { stop: o.stop } : {}),
  };
}

function toOpenAIMessage(m: ChatMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case "system":
      return { role: "system", content: m.content };
    case "tool":
      return { role: "tool", tool_call_id: m.tool_call_id ?? m.tool_name ?? "call_0", content: m.content };
    case "assistant":
      return {
        role: "assistant",
        content: m.content,
        ...(m.tool_calls?.length
          ? {
              tool_calls: m.tool_calls.map((c) => ({
                id: c.id,
                type: "function" as const,
                function: { name: c.name, arguments: JSON.stringify(c.arguments) },
              })),
            }
          : {}),
      };
    default: {
      if (!m.images?.length) return { role: "user", content: m.content };
      const parts: ChatCompletionContentPart[] = [{ type: "text", text: m.content }];
      for (const img of m.images) parts.push({ type: "image_url", image_url: { url: `data:${imageMime(img)};base64,${img}` } });
      return { role: "user", content: parts };
    }
  }
}

/** Ollama takes bare base64; OpenAI wants a data URL, so the type is read from the magic bytes. */
function imageMime(b64: string): string {
  if (b64.startsWith("/9j/")) return "image/jpeg";
  if (b64.startsWith("R0lGOD")) return "image/gif";
  if (b64.startsWith("UklGR")) return "image/webp";
  return "image/png";
}

/** Collects streamed tool-call fragments (by index) into whole calls. */
export function toolCallAssembler() {
  const parts = new Map<number, { id: string; name: string; args: string }>();
  return {
    add(frag: { index: number; id?: string; function?: { name?: string; arguments?: string } }): void {
      const p = parts.get(frag.index) ?? { id: "", name: "", args: "" };
      if (frag.id) p.id = frag.id;
      if (frag.function?.name) p.name += frag.function.name;
      if (frag.function?.arguments) p.args += frag.function.arguments;
      parts.set(frag.index, p);
    },
    /** The finished calls, in index order; clears the assembler. */
    take(): ToolCall[] {
      const calls = [...parts.entries()]
        .sort(([a], [b]) => a - b)
        .map(([i, p]) => ({ id: p.id || `call_${i}`, name: p.name, arguments: parseArgs(p.args) }));
      parts.clear();
      return calls;
    },
  };
}

/** A model can stream arguments that are not JSON; they go on as `_raw` for the tool to refuse. */
function parseArgs(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : { _raw: text };
  } catch {
    return { _raw: text };
  }
}

export interface OpenAIErrorContext {
  baseURL: string;
  model: string;
  /** Where the key came from: "the LITELLM_API_KEY environment variable", "the key file /etc/lyra/litellm.key". */
  keySource: string;
  stoppedBy: "timeout" | "caller" | undefined;
  timeoutMs: number;
  callerReason?: unknown;
}

export function mapOpenAIError(err: unknown, c: OpenAIErrorContext): Error {
  const where = c.baseURL;
  const status: unknown = err instanceof APIError ? err.status : undefined;
  const init = { backend: "openai", where, cause: err, ...(typeof status === "number" ? { status } : {}) };
  if (c.stoppedBy === "caller") return new AbortedError(`chat with '${c.model}' on ${where}`, { cause: c.callerReason ?? err });
  if (c.stoppedBy === "timeout") return new FirstTokenTimeoutError(c.model, c.timeoutMs, init);
  const msg = err instanceof Error ? err.message : String(err);
  // The real proxy (LiteLLM 1.108, master key, no database) answers a key it does not know with
  // 400 `no_db_connection` rather than 401, and an alias missing from model_list with 400
  // "Invalid model name" rather than 404: both are read here as what they mean.
  const type = err instanceof APIError ? (err.type ?? undefined) : undefined;
  if (err instanceof AuthenticationError || err instanceof PermissionDeniedError || type === "no_db_connection") {
    return new BackendAuthError(
      `LiteLLM at ${where} refused the API key from ${c.keySource} (${msg}); put a valid key in ${c.keySource}`,
      init,
    );
  }
  if (err instanceof RateLimitError)
    return new BackendBusyError(`LiteLLM at ${where} is rate limited for '${c.model}' (${msg}); retry later`, init);
  if (err instanceof NotFoundError || (status === 400 && /invalid model name/i.test(msg))) {
    return new ModelNotFoundError(
      c.model,
      `model alias '${c.model}' is not known to LiteLLM at ${where} (${msg}); ` +
        `add it to model_list in the LiteLLM config or fix the role's fallback`,
      init,
    );
  }
  if (err instanceof APIConnectionError || isConnectionError(err)) {
    return new BackendUnavailableError(`LiteLLM is not reachable at ${where} (${msg}); start the proxy or fix litellm.base_url`, init);
  }
  return new BackendError(`LiteLLM at ${where} failed the chat with '${c.model}': ${msg}`, init);
}
