/** Translation between Lyra's model request/chunks and the Ollama API (docs/api.md), and its errors. */
import type { ChatRequest, ChatResponse, Message, Options, Tool, ToolCall as OllamaToolCall } from "ollama";
import type { ToolCall } from "../../schemas/index.ts";
import {
  AbortedError,
  BackendBusyError,
  BackendError,
  BackendUnavailableError,
  ContextOverflowError,
  FirstTokenTimeoutError,
  ModelCapabilityError,
  ModelNotFoundError,
} from "../errors.ts";
import { isConnectionError } from "./abort.ts";
import { DEFAULT_KEEP_ALIVE, DEFAULT_NUM_CTX, type FinalModelChunk, type ModelRequest } from "./types.ts";

/**
 * num_ctx and keep_alive are always sent: a call without them gets Ollama's defaults, and a
 * num_ctx other than the loaded one reloads the model. `truncate: false` makes a prompt longer
 * than num_ctx a 400 instead of Ollama silently dropping its start (system prompt included).
 */
export function toOllamaChat(req: ModelRequest, keepAlive: string | number | undefined): ChatRequest & { truncate: boolean } {
  const messages: Message[] = req.messages.map((m) => ({
    role: m.role,
    content: m.content,
    ...(m.images?.length ? { images: m.images } : {}),
    ...(m.tool_calls?.length ? { tool_calls: m.tool_calls.map((c) => ({ function: { name: c.name, arguments: c.arguments } })) } : {}),
    ...(m.tool_name ? { tool_name: m.tool_name } : {}),
  }));
  const tools: Tool[] | undefined = req.tools?.map((t) => ({
    type: "function",
    function: { name: t.name, description: t.description, parameters: t.parameters },
  }));
  const o = req.options ?? {};
  const options: Partial<Options> = {};
  if (o.temperature !== undefined) options.temperature = o.temperature;
  if (o.top_p !== undefined) options.top_p = o.top_p;
  options.num_ctx = o.num_ctx ?? DEFAULT_NUM_CTX;
  if (o.max_tokens !== undefined) options.num_predict = o.max_tokens;
  if (o.seed !== undefined) options.seed = o.seed;
  if (o.stop !== undefined) options.stop = o.stop;
  return {
    model: req.model,
    messages,
    ...(tools?.length ? { tools } : {}),
    ...(req.format ? { format: req.format } : {}),
    options,
    keep_alive: req.keepAlive ?? keepAlive ?? DEFAULT_KEEP_ALIVE,
    truncate: false,
  };
}

/** Ollama tool calls carry no id in older servers; `call_<n>` keeps them distinct within a call. */
export function fromOllamaToolCall(tc: OllamaToolCall & { id?: string }, n: number): ToolCall {
  const raw: unknown = tc.function.arguments;
  let args: Record<string, unknown> = {};
  if (typeof raw === "string") {
    try {
      args = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      args = { _raw: raw };
    }
  } else if (raw && typeof raw === "object") args = raw as Record<string, unknown>;
  return { id: tc.id || `call_${n}`, name: tc.function.name, arguments: args };
}

const ns = (v: number | undefined) => (typeof v === "number" && v > 0 ? Math.round(v / 1e4) / 100 : undefined);

export function ollamaFinal(part: ChatResponse, wallMs: number, firstTokenMs: number | undefined, thinkingChars = 0): FinalModelChunk {
  const load = ns(part.load_duration);
  const promptEval = ns(part.prompt_eval_duration);
  return {
    type: "final",
    model: part.model,
    backend: "ollama",
    usage: { prompt_tokens: part.prompt_eval_count ?? 0, completion_tokens: part.eval_count ?? 0 },
    timings: {
      total_ms: ns(part.total_duration) ?? wallMs,
      ...(firstTokenMs !== undefined ? { first_token_ms: firstTokenMs } : {}),
      ...(load !== undefined ? { load_ms: load } : {}),
      ...(promptEval !== undefined ? { prompt_eval_ms: promptEval } : {}),
    },
    ...(part.done_reason ? { done_reason: part.done_reason } : {}),
    ...(thinkingChars ? { thinking_chars: thinkingChars } : {}),
  };
}

export interface ErrorContext {
  host: string;
  model: string;
  what: string;
  stoppedBy: "timeout" | "caller" | undefined;
  timeoutMs: number;
  callerReason?: unknown;
}

/** Turns whatever the ollama client threw into a typed error that names the model and the host. */
export function mapOllamaError(err: unknown, c: ErrorContext): Error {
  const init = { backend: "ollama", where: c.host, cause: err };
  if (c.stoppedBy === "caller") return new AbortedError(`${c.what} on ${c.host}`, { cause: c.callerReason ?? err });
  if (c.stoppedBy === "timeout") return new FirstTokenTimeoutError(c.model, c.timeoutMs, init);
  const status = (err as { status_code?: unknown }).status_code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof status === "number") {
    const withStatus = { ...init, status };
    if (status === 404 || /not found/i.test(message)) return notFound(c, withStatus);
    if (status === 400 && /does not support tools/i.test(message)) {
      return new ModelCapabilityError(
        `model '${c.model}' on ${c.host} has no tools in its chat template (${message}); ` +
          `set tool_mode: constrained (or auto) for this role`,
        withStatus,
      );
    }
    if (status === 400 && /exceeds the context length/i.test(message)) {
      return new ContextOverflowError(
        `the prompt for model '${c.model}' on ${c.host} is longer than its num_ctx (${message}); ` +
          `raise num_ctx for this role or send a shorter conversation`,
        withStatus,
      );
    }
    if (status === 503 || status === 429) {
      return new BackendBusyError(
        `Ollama on ${c.host} is busy (${status}: ${message}); retry later, or raise OLLAMA_NUM_PARALLEL / OLLAMA_MAX_QUEUE there`,
        withStatus,
      );
    }
    return new BackendError(`Ollama on ${c.host} failed ${c.what} (${status}: ${message})`, withStatus);
  }
  if (isConnectionError(err) || /did not receive done/i.test(message)) {
    return new BackendUnavailableError(
      `Ollama is not reachable at ${c.host} (${message}); start it with 'ollama serve' or fix the host's ollama_url`,
      init,
    );
  }
  // Errors inside a stream arrive as `{"error": "..."}` records, without a status.
  if (/model .* not found/i.test(message)) return notFound(c, init);
  return new BackendError(`Ollama on ${c.host} failed ${c.what}: ${message}`, init);
}

function notFound(c: ErrorContext, init: { backend: string; where: string; cause: unknown; status?: number }): ModelNotFoundError {
  return new ModelNotFoundError(
    c.model,
    `model '${c.model}' is not pulled on ${c.host}; run 'ollama pull ${c.model}' there (or 'npm run setup' for the models of the tests)`,
    init,
  );
}
