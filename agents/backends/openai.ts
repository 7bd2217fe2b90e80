/** Model backend for an OpenAI-compatible server (the LiteLLM proxy), through the `openai` client. */
import OpenAI from "openai";
import type { Usage } from "../../schemas/index.ts";
import { BackendTimeoutError, BackendUnavailableError } from "../errors.ts";
import { callControl, since } from "./abort.ts";
import { keySourceOf, openAIKey, openAIKeySource } from "./openai-key.ts";
import { mapOpenAIError, toOpenAIParams, toolCallAssembler } from "./openai-map.ts";
import {
  DEFAULT_FIRST_TOKEN_TIMEOUT_MS,
  DEFAULT_HEALTH_TIMEOUT_MS,
  estimateTokens,
  promptChars,
  type BackendHealth,
  type CallOptions,
  type ChatOptions,
  type ModelBackend,
  type ModelChunk,
  type ModelRequest,
} from "./types.ts";

export interface OpenAIBackendConfig {
  /** Base URL of the API, e.g. http://litellm:4000/v1. */
  baseURL: string;
  /** The key itself; default read from the variable named by `apiKeyEnv`. */
  apiKey?: string;
  /** Name of the environment variable that holds the key; default LITELLM_API_KEY. */
  apiKeyEnv?: string;
  /** A file with the key, read again when it changes (key rotation); when set, the variable is not read. */
  apiKeyFile?: string;
  /** Environment to read the key from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Backend name in final chunks; default "openai". */
  name?: string;
  /** fetch implementation; default the global fetch. */
  fetch?: typeof fetch;
}

/** Throws BackendConfigError at once when no key is found, so a bad setup fails at start. */
export function createOpenAIBackend(cfg: OpenAIBackendConfig): ModelBackend {
  const keySource = keySourceOf(cfg);
  const key = openAIKeySource(cfg);
  // The key goes with each call, so a rotated key file takes effect on the next one.
  const auth = async () => ({ Authorization: `Bearer ${await key()}` });

  const name = cfg.name ?? "openai";
  // Retries are the caller's business (fallback, another replica): one attempt per call here.
  const client = new OpenAI({ apiKey: openAIKey(cfg), baseURL: cfg.baseURL, maxRetries: 0, ...(cfg.fetch ? { fetch: cfg.fetch } : {}) });

  async function* chat(req: ModelRequest, opts: ChatOptions = {}): AsyncGenerator<ModelChunk> {
    const timeoutMs = opts.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
    const ctl = callControl(opts.signal, timeoutMs);
    const context = () => ({
      baseURL: cfg.baseURL,
      model: req.model,
      keySource,
      timeoutMs,
      stoppedBy: ctl.stoppedBy(),
      callerReason: opts.signal?.reason as unknown,
    });
    const started = performance.now();
    const calls = toolCallAssembler();
    let firstTokenMs: number | undefined;
    let finish: string | undefined;
    let usage: Usage | undefined;
    let outChars = 0;
    try {
      const stream = await client.chat.completions.create(toOpenAIParams(req), { signal: ctl.signal, headers: await auth() });
      for await (const chunk of stream) {
        if (chunk.usage) usage = { prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: chunk.usage.completion_tokens };
        const choice = chunk.choices[0];
        if (!choice) continue;
        const text = choice.delta?.content;
        if (text || choice.delta?.tool_calls?.length) {
          ctl.disarm();
          firstTokenMs ??= since(started);
        }
        for (const frag of choice.delta?.tool_calls ?? []) calls.add(frag);
        if (text) {
          outChars += text.length;
          yield { type: "delta", text };
        }
        if (choice.finish_reason) {
          finish = choice.finish_reason;
          for (const call of calls.take()) yield { type: "tool_call", call };
        }
      }
    } catch (err) {
      throw mapOpenAIError(err, context());
    } finally {
      ctl.close();
    }
    // The openai client ends an aborted stream quietly; find out why it ended.
    if (ctl.stoppedBy()) throw mapOpenAIError(new Error("stream aborted"), context());
    if (finish === undefined) {
      throw new BackendUnavailableError(
        `LiteLLM at ${cfg.baseURL} ended the stream for '${req.model}' before it finished; check the proxy's logs`,
        { backend: name, where: cfg.baseURL },
      );
    }
    yield {
      type: "final",
      model: req.model,
      backend: name,
      // A proxy that sends no usage chunk (stream_options.include_usage unsupported): estimated, not 0.
      usage: usage ?? { prompt_tokens: estimateTokens(promptChars(req)), completion_tokens: estimateTokens(outChars), estimated: true },
      timings: { total_ms: since(started), ...(firstTokenMs !== undefined ? { first_token_ms: firstTokenMs } : {}) },
      done_reason: finish,
    };
  }

  async function health(opts: CallOptions = {}): Promise<BackendHealth> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    const ctl = callControl(opts.signal, timeoutMs);
    try {
      const models: string[] = [];
      for await (const m of client.models.list({ signal: ctl.signal, headers: await auth() })) models.push(m.id);
      return { ok: true, models, loaded: [] };
    } catch (err) {
      const e =
        ctl.stoppedBy() === "timeout"
          ? new BackendTimeoutError("the health probe", timeoutMs, { backend: name, where: cfg.baseURL })
          : mapOpenAIError(err, { baseURL: cfg.baseURL, model: "", keySource, timeoutMs, stoppedBy: ctl.stoppedBy() });
      return { ok: false, models: [], loaded: [], error: e.message };
    } finally {
      ctl.close();
    }
  }

  // Cloud models need no loading.
  const warm = async (): Promise<void> => {};

  return { name, chat, health, warm };
}
