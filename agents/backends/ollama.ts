/** Model backend for a local Ollama, through the official `ollama` client. */
import { Ollama } from "ollama";
import { DEFAULT_OLLAMA_URL, normalizeOllamaUrl } from "../../schemas/config.ts";
import { BackendTimeoutError } from "../errors.ts";
import { callControl, fetchWithSignal, since, type CallControl } from "./control.ts";
import { fromOllamaToolCall, mapOllamaError, ollamaFinal, toOllamaChat } from "./ollama-map.ts";
import {
  DEFAULT_FIRST_TOKEN_TIMEOUT_MS,
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_WARM_TIMEOUT_MS,
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
  /** keep_alive for calls that set none; default unset (Ollama keeps a model 5 minutes). */
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

  async function* chat(req: ModelRequest, opts: ChatOptions = {}): AsyncGenerator<ModelChunk> {
    const timeoutMs = opts.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
    const ctl = callControl(opts.signal, timeoutMs);
    const started = performance.now();
    let firstTokenMs: number | undefined;
    let calls = 0;
    try {
      const stream = await clientFor(ctl).chat({ ...toOllamaChat(req, cfg.keepAlive), stream: true });
      for await (const part of stream) {
        // Ollama sends nothing while it loads the model; the first record means it is answering.
        ctl.disarm();
        const text = part.message?.content ?? "";
        if (text) {
          firstTokenMs ??= since(started);
          yield { type: "delta", text };
        }
        for (const tc of part.message?.tool_calls ?? []) {
          firstTokenMs ??= since(started);
          yield { type: "tool_call", call: fromOllamaToolCall(tc, calls++) };
        }
        if (part.done) yield ollamaFinal(part, since(started), firstTokenMs);
      }
    } catch (err) {
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
      const e = ctl.stoppedBy() === "timeout" ? new BackendTimeoutError("the health probe", timeoutMs, { backend: "ollama", where: host }) : mapOllamaError(err, errorContext(ctl, "", "the health probe", timeoutMs, opts.signal));
      return { ok: false, models: [], loaded: [], error: e.message };
    } finally {
      ctl.close();
    }
  }

  /** Ollama loads a model when asked to generate from an empty prompt (docs/api.md "Load a model"). */
  async function warm(model: string, opts: WarmOptions = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_WARM_TIMEOUT_MS;
    const keepAlive = opts.keepAlive ?? cfg.keepAlive;
    const ctl = callControl(opts.signal, timeoutMs);
    try {
      await clientFor(ctl).generate({ model, prompt: "", stream: false, ...(keepAlive !== undefined ? { keep_alive: keepAlive } : {}) });
    } catch (err) {
      if (ctl.stoppedBy() === "timeout") throw new BackendTimeoutError(`loading model '${model}'`, timeoutMs, { backend: "ollama", where: host, cause: err });
      throw mapOllamaError(err, errorContext(ctl, model, `loading model '${model}'`, timeoutMs, opts.signal));
    } finally {
      ctl.close();
    }
  }

  return { name: "ollama", chat, health, warm };
}
