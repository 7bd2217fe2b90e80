/** Model backend for a local Ollama, through the official `ollama` client. */
import { Ollama, type ChatResponse, type ShowResponse } from "ollama";
import { DEFAULT_OLLAMA_URL, normalizeOllamaUrl } from "../../schemas/index.ts";
import { AgentError, BackendTimeoutError } from "../errors.ts";
import { callControl, fetchWithSignal, since, type CallControl } from "./abort.ts";
import { asChatRecord, chatmlFits, chatmlGenerate, Continuation, continuationOf, continues } from "./ollama-continue.ts";
import { constrainedParser, constrainedRequest, jsonEnd, type ConstrainedEvent } from "./ollama-constrained.ts";
import { thinkFilter } from "./think-filter.ts";
import { fromOllamaToolCall, mapOllamaError, ollamaFinal, toOllamaChat } from "./ollama-map.ts";
import {
  DEFAULT_FIRST_TOKEN_TIMEOUT_MS,
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE,
  DEFAULT_NUM_CTX,
  DEFAULT_WARM_TIMEOUT_MS,
  estimateTokens,
  promptChars,
  ToolMode,
  type BackendHealth,
  type CallOptions,
  type ChatOptions,
  type ModelBackend,
  type ModelChunk,
  type ModelRequest,
  type WarmOptions,
} from "./types.ts";

export interface OllamaBackendConfig {
  /** Ollama URL, or what OLLAMA_HOST accepts ("host:port"); default http://127.0.0.1:11434. */
  host?: string;
  /** keep_alive for calls that set none; default DEFAULT_KEEP_ALIVE (always sent). */
  keepAlive?: string | number;
  /** fetch implementation; default the global fetch. */
  fetch?: typeof fetch;
}

export function createOllamaBackend(cfg: OllamaBackendConfig = {}): ModelBackend {
  const host = normalizeOllamaUrl(cfg.host ?? DEFAULT_OLLAMA_URL);
  const baseFetch = cfg.fetch ?? globalThis.fetch;
  // A client per call: the ollama client takes no AbortSignal on most calls, so the call's
  // signal is put into the fetch it uses. Clients are plain objects; this costs nothing.
  const clientFor = (ctl: CallControl) => new Ollama({ host, fetch: fetchWithSignal(baseFetch, ctl.signal) });
  const errorContext = (ctl: CallControl, model: string, what: string, timeoutMs: number, caller?: AbortSignal) => ({
    host,
    model,
    what,
    timeoutMs,
    stoppedBy: ctl.stoppedBy(),
    callerReason: caller?.reason as unknown,
  });

  const modelInfo = cachedShow((model, ctl) => clientFor(ctl).show({ model }));
  const supportsTools = async (model: string, ctl: CallControl): Promise<boolean> => (await modelInfo(model, ctl)).tools;
  const constrainedFor = async (req: ModelRequest, ctl: CallControl): Promise<boolean> => {
    if (!req.tools?.length || req.toolMode === ToolMode.Native) return false;
    return req.toolMode === ToolMode.Constrained || !(await supportsTools(req.model, ctl));
  };

  async function* chat(req: ModelRequest, opts: ChatOptions = {}): AsyncGenerator<ModelChunk> {
    const timeoutMs = opts.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
    const ctl = callControl(opts.signal, timeoutMs);
    const started = performance.now();
    try {
      if (continues(req) && chatmlFits(req) && (await modelInfo(req.model, ctl)).continuation === Continuation.ChatML) {
        // The template closes every message: the prompt goes raw, its last message left open.
        const raw = await clientFor(ctl).generate({ ...chatmlGenerate(req, cfg.keepAlive), stream: true });
        yield* readChat(mapRecords(raw, asChatRecord), { req, constrained: false, host, ctl, started });
        return;
      }
      const constrained = await constrainedFor(req, ctl);
      const stream = await clientFor(ctl).chat({
        ...toOllamaChat(constrained ? constrainedRequest(req) : req, cfg.keepAlive),
        stream: true,
      });
      yield* readChat(stream, { req, constrained, host, ctl, started });
    } catch (err) {
      if (err instanceof AgentError) throw err;
      throw mapOllamaError(err, errorContext(ctl, req.model, "the chat", timeoutMs, opts.signal));
    } finally {
      ctl.close();
    }
  }

  async function health(opts: CallOptions = {}): Promise<BackendHealth> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    const ctl = callControl(opts.signal, timeoutMs);
    try {
      const client = clientFor(ctl);
      const [tags, ps] = await Promise.all([client.list(), client.ps()]);
      return { ok: true, models: tags.models.map((m) => m.name), loaded: ps.models.map((m) => m.name) };
    } catch (err) {
      const e =
        ctl.stoppedBy() === "timeout"
          ? new BackendTimeoutError("the health probe", timeoutMs, { backend: "ollama", where: host })
          : mapOllamaError(err, errorContext(ctl, "", "the health probe", timeoutMs, opts.signal));
      return { ok: false, models: [], loaded: [], error: e.message };
    } finally {
      ctl.close();
    }
  }

  /** Ollama loads a model when asked to generate from an empty prompt (docs/api.md "Load a model"). */
  async function warm(model: string, opts: WarmOptions = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_WARM_TIMEOUT_MS;
    const keepAlive = opts.keepAlive ?? cfg.keepAlive ?? DEFAULT_KEEP_ALIVE;
    const ctl = callControl(opts.signal, timeoutMs);
    try {
      // With the num_ctx the role's chats send: a load with another one is reloaded by the first chat.
      await clientFor(ctl).generate({
        model,
        prompt: "",
        stream: false,
        keep_alive: keepAlive,
        options: { num_ctx: opts.numCtx ?? DEFAULT_NUM_CTX },
      });
    } catch (err) {
      if (ctl.stoppedBy() === "timeout")
        throw new BackendTimeoutError(`loading model '${model}'`, timeoutMs, { backend: "ollama", where: host, cause: err });
      throw mapOllamaError(err, errorContext(ctl, model, `loading model '${model}'`, timeoutMs, opts.signal));
    } finally {
      ctl.close();
    }
  }

  /** Whether the model's template lets Ollama continue a final assistant message (ollama-continue.ts). */
  async function canContinue(req: ModelRequest): Promise<boolean> {
    const ctl = callControl(undefined, DEFAULT_HEALTH_TIMEOUT_MS);
    // On an error the answer is written afresh; the chat itself says what is wrong with the server.
    const c = await modelInfo(req.model, ctl).then(
      (i) => i.continuation,
      () => Continuation.None,
    );
    ctl.close();
    return c === Continuation.Native || (c === Continuation.ChatML && chatmlFits(req));
  }

  return { name: "ollama", chat, health, warm, canContinue };
}

/**
 * What a model's template allows (POST /api/show), asked once per model: `tools` (its
 * capabilities; a server too old to report them gets native tools) and continuing a final
 * assistant message (ollama-continue.ts).
 */
function cachedShow(show: (model: string, ctl: CallControl) => Promise<ShowResponse>) {
  const shown = new Map<string, Promise<{ tools: boolean; continuation: Continuation }>>();
  return (model: string, ctl: CallControl) => {
    let p = shown.get(model);
    if (!p) {
      p = show(model, ctl).then((r) => ({
        tools: !Array.isArray(r.capabilities) || r.capabilities.includes("tools"),
        continuation: continuationOf(r.template),
      }));
      shown.set(model, p);
      p.catch(() => shown.delete(model));
    }
    return p;
  };
}

async function* mapRecords<A, B>(src: AsyncIterable<A>, f: (a: A) => B): AsyncGenerator<B> {
  for await (const a of src) yield f(a);
}

/**
 * Ollama's stream records as model chunks: think tags split off the answer, a constrained answer
 * parsed into tool calls, a `format` answer ended at the end of its JSON.
 */
async function* readChat(
  stream: AsyncIterable<ChatResponse>,
  o: { req: ModelRequest; constrained: boolean; host: string; ctl: CallControl; started: number },
): AsyncGenerator<ModelChunk> {
  const { ctl, started } = o;
  let firstTokenMs: number | undefined;
  let calls = 0;
  let thinkingChars = 0;
  let records = 0;
  const think = thinkFilter();
  const parser = o.constrained ? constrainedParser(o.req.tools ?? [], o.host) : undefined;
  // A `format` answer ends with its JSON too: what follows is padding up to max_tokens.
  const formatEnd = !parser && o.req.format ? jsonEnd() : undefined;
  const answer = (text: string): ConstrainedEvent[] => {
    if (parser) return parser.push(text);
    formatEnd?.push(text);
    return text ? [{ type: "delta", text }] : [];
  };
  for await (const part of stream) {
    // Ollama sends nothing while it loads the model; the first record means it is answering.
    ctl.disarm();
    const split = think.push(part.message?.content ?? "");
    const flushed = part.done ? think.flush() : { answer: "", thinking: "" };
    thinkingChars += (part.message?.thinking?.length ?? 0) + split.thinking.length + flushed.thinking.length;
    const events = answer(split.answer + flushed.answer);
    for (const tc of part.message?.tool_calls ?? []) events.push({ type: "tool_call", call: fromOllamaToolCall(tc, calls++) });
    records++;
    const cut = !part.done && (parser ?? formatEnd)?.complete() === true;
    if ((part.done || cut) && parser) events.push(...parser.end(calls++));
    for (const e of events) {
      firstTokenMs ??= since(started);
      yield e;
    }
    if (part.done) yield ollamaFinal(part, since(started), firstTokenMs, thinkingChars);
    if (cut) {
      // Stop at the end of the JSON (chat's `finally` aborts the request); Ollama's usage comes
      // only with its last record, so completion_tokens counts the records (one token each) and
      // prompt_tokens is estimated from the prompt's length.
      const cutPart = { ...part, done_reason: "stop", eval_count: records, prompt_eval_count: estimateTokens(promptChars(o.req)) };
      const final = ollamaFinal(cutPart, since(started), firstTokenMs, thinkingChars);
      yield { ...final, usage: { ...final.usage, estimated: true } };
      return;
    }
  }
}
