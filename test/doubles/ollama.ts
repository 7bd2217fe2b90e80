/**
 * An Ollama server double, checked against real Ollama 0.24 (ARCHITECTURE.md "Real parts and their
 * doubles"): /api/chat (NDJSON stream or one JSON), /api/generate (enough to load a model),
 * /api/embed, /api/tags, /api/ps, /api/show (capabilities), `{"error": "..."}` bodies with the real
 * server's messages: 404 for models not pulled, 400 for `tools` to a model without the
 * capability and for a prompt over num_ctx with `truncate: false`, 503 when more requests are in
 * flight than it has room for; each tool call in a record of its own, `message.thinking` records.
 * Embeddings are shaped like all-minilm's (384 dims, unit length; no input or "" gives
 * `embeddings: []`); a model whose name holds "embed" or "minilm" is an embedding model, any other a
 * chat model (which answers /api/embed too, as real Ollama does).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Closable } from "../../mesh/lifecycle.ts";
import { readJson, sampleForSchema, sendJson, sleep, startDoubleServer, tokens, type LoggedRequest, lifeOf } from "./http.ts";

/** A tool call as Ollama writes it in an assistant message: arguments are an object, not a string. */
export interface OllamaToolCall {
  function: { name: string; arguments: Record<string, unknown> };
}

/** A chat message as Ollama takes it; a tool's result is `{role: "tool", content, tool_name}`. */
export interface OllamaMessage {
  role: string;
  content: string;
  images?: string[];
  tool_calls?: OllamaToolCall[];
  tool_name?: string;
}

/** The /api/chat body, as far as the double looks at it. */
export interface OllamaChatBody {
  model: string;
  messages?: OllamaMessage[];
  tools?: { type: string; function: { name: string; description?: string; parameters?: unknown } }[];
  format?: "json" | Record<string, unknown>;
  options?: Record<string, unknown>;
  keep_alive?: string | number;
  stream?: boolean;
  truncate?: boolean;
}

/** What the scripted reply can be: text, tool calls, or a failure. */
export type OllamaDoubleReply =
  string | { content?: string; tool_calls?: OllamaToolCall[]; thinking?: string } | { error: string; status: number };

export interface OllamaDoubleOptions {
  /** Pulled models (chat and embedding alike); default ["qwen3:8b"]. */
  models?: string[];
  /** /api/show capabilities per model; default ["completion", "tools"] (smollm2:135m has only "completion"). */
  capabilities?: Record<string, string[]>;
  /** /api/show template of every model; default "" (a template with `$last` continues a final assistant message). */
  template?: string;
  /** Requests it takes at once (OLLAMA_NUM_PARALLEL plus queue); more get 503; default 4. */
  parallel?: number;
  /** Delay of the first request per model (cold load), ms; default 0. */
  loadDelayMs?: number;
  /** Delay before the first token of every chat, ms; default 0. */
  firstTokenDelayMs?: number;
  /** Delay between tokens, ms; default 0. */
  tokenDelayMs?: number;
  /** Scripts the answer; default "You said: <last user message>". */
  reply?: (req: OllamaChatBody) => OllamaDoubleReply;
  /** The JSON document sent when `format` is set; default a sample of the schema (or {}). */
  json?: (req: OllamaChatBody) => unknown;
  /** Text streamed after a `format` answer's JSON, as a model pads it up to max_tokens; default none. */
  jsonPadding?: string;
  /** Port; default a random free one. */
  port?: number;
}

export interface OllamaDouble extends Closable {
  readonly url: string;
  /** Every request, in order. */
  readonly requests: LoggedRequest[];
  /** The bodies of the /api/chat requests, in order. */
  chats(): OllamaChatBody[];
  /** Models loaded now (as /api/ps reports them). */
  loaded(): string[];
  /** The next request gets this status and `{"error": message}`. */
  failNext(status: number, message?: string): void;
  down(): Promise<void>;
  up(): Promise<void>;
}

const NS_PER_MS = 1e6;

export async function startOllamaDouble(opts: OllamaDoubleOptions = {}): Promise<OllamaDouble> {
  const models = new Set(opts.models ?? ["qwen3:8b"]);
  const parallel = opts.parallel ?? 4;
  const requests: LoggedRequest[] = [];
  const loadedUntil = new Map<string, number>();
  let inFlight = 0;
  let failure: { status: number; message: string } | undefined;

  const reply = opts.reply ?? ((b: OllamaChatBody) => `You said: ${b.messages?.findLast((m) => m.role === "user")?.content ?? ""}`);
  const json = opts.json ?? ((b: OllamaChatBody) => (typeof b.format === "object" ? sampleForSchema(b.format) : {}));

  /** Loads the model if needed; returns the load time in ms. */
  const load = async (model: string, keepAlive: unknown, gone: AbortSignal): Promise<number> => {
    const cold = (loadedUntil.get(model) ?? 0) < Date.now();
    const started = performance.now();
    if (cold) await sleep(opts.loadDelayMs ?? 0, gone);
    loadedUntil.set(model, Date.now() + keepAliveMs(keepAlive));
    return performance.now() - started;
  };

  const handler = async (req: IncomingMessage, res: ServerResponse, gone: AbortSignal) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const body = req.method === "POST" ? await readJson(req) : undefined;
    const entry: LoggedRequest = { method: req.method ?? "GET", path, headers: req.headers, body, aborted: false };
    requests.push(entry);
    res.on("close", () => (entry.aborted = !res.writableFinished));
    if (failure) {
      const f = failure;
      failure = undefined;
      return sendJson(res, f.status, { error: f.message });
    }
    if (req.method === "GET" && path === "/api/tags") return sendJson(res, 200, { models: [...models].map(modelInfo) });
    if (req.method === "GET" && path === "/api/ps") {
      const now = Date.now();
      const running = [...loadedUntil].filter(([, until]) => until > now);
      return sendJson(res, 200, {
        models: running.map(([m, until]) => ({ ...modelInfo(m), expires_at: new Date(until).toISOString(), size_vram: 1e9 })),
      });
    }
    // Real Ollama answers an unknown path with a plain-text body, not JSON.
    if (req.method !== "POST" || !["/api/chat", "/api/generate", "/api/embed", "/api/show"].includes(path)) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("404 page not found");
      return;
    }
    const b = (body ?? {}) as OllamaChatBody & { prompt?: string };
    if (!b.model) return sendJson(res, 400, { error: "model is required" });
    if (!models.has(b.model)) return sendJson(res, 404, { error: `model '${b.model}' not found` });
    const caps = opts.capabilities?.[b.model] ?? (isEmbedModel(b.model) ? ["embedding"] : ["completion", "tools"]);
    if (path === "/api/show")
      return sendJson(res, 200, {
        modelfile: "",
        parameters: "",
        template: opts.template ?? "",
        details: modelInfo(b.model).details,
        model_info: {},
        capabilities: caps,
      });
    if (path === "/api/chat" && b.tools?.length && !caps.includes("tools"))
      return sendJson(res, 400, { error: `registry.ollama.ai/library/${b.model} does not support tools` });
    const ctx = typeof b.options?.num_ctx === "number" ? b.options.num_ctx : 4096;
    const promptTokens = (b.messages ?? []).reduce((n, m) => n + tokens(m.content ?? "").length, 0);
    if (path === "/api/chat" && b.truncate === false && promptTokens > ctx)
      return sendJson(res, 400, { error: "the input length exceeds the context length" });
    if (inFlight >= parallel) return sendJson(res, 503, { error: "server busy, please try again.  maximum pending requests exceeded" });
    inFlight++;
    try {
      if (path === "/api/generate") return await generate(b, res, gone);
      if (path === "/api/embed") return embedAnswer(b, res);
      return await chat(b, res, gone);
    } finally {
      inFlight--;
    }
  };

  async function generate(b: OllamaChatBody & { prompt?: string }, res: ServerResponse, gone: AbortSignal) {
    const loadMs = await load(b.model, b.keep_alive, gone);
    if (keepAliveMs(b.keep_alive) === 0) loadedUntil.delete(b.model);
    // An empty prompt only loads the model ("Load a model" in docs/api.md).
    const text = b.prompt ? reply({ model: b.model, messages: [{ role: "user", content: b.prompt }] }) : "";
    const record = {
      model: b.model,
      created_at: new Date().toISOString(),
      response: typeof text === "string" ? text : "",
      done: true,
      done_reason: b.prompt ? "stop" : "load",
      load_duration: Math.round(loadMs * NS_PER_MS),
    };
    if (b.stream === false) return sendJson(res, 200, record);
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    res.end(JSON.stringify(record) + "\n");
  }

  async function chat(b: OllamaChatBody, res: ServerResponse, gone: AbortSignal) {
    const started = performance.now();
    const loadMs = await load(b.model, b.keep_alive, gone);
    let r = reply(b);
    if (typeof r === "object" && "error" in r) return sendJson(res, r.status, { error: r.error });
    if (b.format !== undefined) r = JSON.stringify(json(b)) + (opts.jsonPadding ?? "");
    const content = typeof r === "string" ? r : (r.content ?? "");
    const toolCalls = typeof r === "string" ? undefined : r.tool_calls;
    const thinking = typeof r === "string" ? undefined : r.thinking;
    await sleep(opts.firstTokenDelayMs ?? 0, gone);
    const promptTokens = (b.messages ?? []).reduce((n, m) => n + tokens(m.content ?? "").length, 0);
    const pieces = tokens(content);
    const final = () => ({
      model: b.model,
      created_at: new Date().toISOString(),
      message: {
        role: "assistant",
        content: b.stream === false ? content : "",
        ...(b.stream === false && toolCalls ? { tool_calls: toolCalls } : {}),
      },
      done: true,
      done_reason: "stop",
      total_duration: Math.round((performance.now() - started) * NS_PER_MS),
      load_duration: Math.round(loadMs * NS_PER_MS),
      prompt_eval_count: promptTokens,
      prompt_eval_duration: 1_000_000,
      eval_count: Math.max(pieces.length, toolCalls ? 1 : 0),
      eval_duration: 2_000_000,
    });
    if (b.stream === false) return sendJson(res, 200, final());
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const record = (message: object) => ({
      model: b.model,
      created_at: new Date().toISOString(),
      message: { role: "assistant", content: "", ...message },
      done: false,
    });
    // A thinking model streams its reasoning in message.thinking before the answer.
    for (const piece of thinking ? tokens(thinking) : []) res.write(JSON.stringify(record({ thinking: piece })) + "\n");
    for (const [i, piece] of pieces.entries()) {
      if (gone.aborted) return;
      if (i > 0) await sleep(opts.tokenDelayMs ?? 0, gone);
      res.write(JSON.stringify(record({ content: piece })) + "\n");
    }
    // Real Ollama parses calls out of the stream and sends each as soon as it is complete.
    for (const call of toolCalls ?? []) res.write(JSON.stringify(record({ tool_calls: [call] })) + "\n");
    if (gone.aborted) return;
    res.end(JSON.stringify(final()) + "\n");
  }

  // docs/api.md "Generate Embeddings": {model, input: string | string[]} → {model, embeddings: [[...]]}.
  function embedAnswer(b: { model: string; input?: unknown }, res: ServerResponse) {
    // Real Ollama: no input, or "", is 200 with no embeddings; anything but strings is 400.
    const inputs =
      b.input === undefined || b.input === ""
        ? []
        : typeof b.input === "string"
          ? [b.input]
          : Array.isArray(b.input) && b.input.every((x) => typeof x === "string")
            ? b.input
            : undefined;
    if (!inputs) return sendJson(res, 400, { error: "invalid input type" });
    return sendJson(res, 200, {
      model: b.model,
      embeddings: inputs.map(embedText),
      total_duration: 1_000_000,
      load_duration: 0,
      prompt_eval_count: inputs.reduce((n, t) => n + tokens(t).length, 0),
    });
  }

  const server = await startDoubleServer(handler, opts.port);
  return {
    url: server.url,
    requests,
    chats: () => requests.filter((r) => r.path === "/api/chat").map((r) => r.body as OllamaChatBody),
    loaded: () => [...loadedUntil].filter(([, until]) => until > Date.now()).map(([m]) => m),
    failNext: (status, message = "internal error") => (failure = { status, message }),
    down: () => server.down(),
    up: () => server.up(),
    ...lifeOf(server),
  };
}

function modelInfo(name: string) {
  return {
    name,
    model: name,
    modified_at: "2025-01-01T00:00:00Z",
    size: 5_000_000_000,
    digest: "sha256:" + Buffer.from(name).toString("hex").padEnd(64, "0").slice(0, 64),
    details: { parent_model: "", format: "gguf", family: "qwen3", families: ["qwen3"], parameter_size: "8B", quantization_level: "Q4_K_M" },
  };
}

/** Ollama keep_alive: seconds as a number, a Go duration string, negative = forever; default 5m. */
function keepAliveMs(v: unknown): number {
  if (v === undefined || v === null) return 5 * 60_000;
  if (typeof v === "number") return v < 0 ? Number.MAX_SAFE_INTEGER : v * 1000;
  const s = typeof v === "string" ? v : "5m";
  if (s.startsWith("-")) return Number.MAX_SAFE_INTEGER;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, n, u] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)?/g)) total += Number(n) * (unit[u ?? "s"] ?? 1000);
  return total;
}

/**
 * The tool results a chat request carries for its last user message: the `role: "tool"` messages
 * after the last user message, each answering a call of an earlier assistant `tool_calls`.
 */
/** Whether a chat is the voice's: its instruction (the whole draft, or one part of it in the pipelined voice) asks for Lyra's voice. */
export function isVoiceChat(b: OllamaChatBody): boolean {
  return (b.messages ?? []).some((m) => m.role === "system" && m.content.includes("in Lyra's voice"));
}

export function toolResultsOf(b: OllamaChatBody): { tool_name?: string; content: string }[] {
  const msgs = b.messages ?? [];
  return msgs
    .slice(msgs.findLastIndex((m) => m.role === "user") + 1)
    .filter((m) => m.role === "tool")
    .map((m) => ({ tool_name: m.tool_name, content: m.content }));
}

/** The names of the tools a chat request offered (Ollama `tools[].function.name`). */
export function offeredTools(b: OllamaChatBody): string[] {
  return (b.tools ?? []).map((t) => t.function.name);
}

/** Dimensions of the double's embeddings (all-minilm's, the model `npm run setup` imports). */
export const EMBED_DIMS = 384;

const isEmbedModel = (name: string): boolean => /embed|minilm/.test(name);
/**
 * Words the double takes as the same meaning: each group embeds as one concept, so a search for
 * "canine" finds "my puppy" by vector while sharing no word with it.
 */
const CONCEPTS: readonly (readonly string[])[] = [
  ["dog", "dogs", "puppy", "puppies", "canine", "hound", "pooch"],
  ["cat", "cats", "kitten", "feline", "kitty"],
  ["car", "cars", "automobile", "vehicle", "sedan"],
  ["happy", "glad", "joyful", "cheerful", "delighted"],
  ["food", "meal", "dinner", "lunch", "cuisine", "eat", "eating"],
  ["music", "song", "songs", "melody", "tune"],
  ["doctor", "physician", "medic", "clinic"],
  ["ocean", "sea", "beach", "coast"],
];
const conceptOf = new Map(CONCEPTS.flatMap((g) => g.map((w) => [w, g[0]!] as const)));

/** A deterministic, meaning-ish embedding: a bag of concepts (words, synonyms folded) hashed into EMBED_DIMS, unit length. */
export function embedText(text: string): number[] {
  const v = new Array<number>(EMBED_DIMS).fill(0);
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    const c = conceptOf.get(w) ?? w;
    let h = 2166136261;
    for (let i = 0; i < c.length; i++) h = Math.imul(h ^ c.charCodeAt(i), 16777619);
    const i = (h >>> 0) % EMBED_DIMS;
    v[i] = v[i]! + (h & 0x100 ? 1 : -1);
  }
  const n = Math.hypot(...v);
  return n > 0 ? v.map((x) => x / n) : v;
}
