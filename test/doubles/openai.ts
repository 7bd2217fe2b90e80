/**
 * An OpenAI-compatible server double (what the LiteLLM proxy serves): POST /v1/chat/completions
 * as an SSE stream (`data: {chunk}` lines, tool-call fragments, a usage chunk, `data: [DONE]`) or
 * one JSON, GET /v1/models, POST /v1/images/generations (`{created, data: [{b64_json,
 * revised_prompt}]}`), POST /v1/audio/speech (the audio bytes, `Content-Type: audio/mpeg` etc.),
 * and OpenAI's error bodies `{"error": {message, type, param, code}}`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Closable } from "../../mesh/lifecycle.ts";
import { readJson, sampleForSchema, sendJson, sleep, startDoubleServer, tokens, type LoggedRequest, lifeOf } from "./http.ts";

export interface OpenAIChatBody {
  model: string;
  messages: { role: string; content: unknown; tool_calls?: unknown[]; tool_call_id?: string }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: { type: "function"; function: { name: string; description?: string; parameters?: unknown } }[];
  response_format?: { type: string; json_schema?: { name: string; schema: unknown; strict?: boolean } };
  temperature?: number;
  max_tokens?: number;
}

export type OpenAIDoubleReply = string | { content?: string; tool_calls?: { name: string; arguments: Record<string, unknown> }[] };

export interface OpenAIDoubleOptions {
  /** The key it accepts as `Authorization: Bearer <key>`; default "sk-test". */
  apiKey?: string;
  /** Model aliases it serves; default ["lyra-fallback"]. */
  models?: string[];
  /** Scripts the answer; default "Cloud says: <last user message>". */
  reply?: (req: OpenAIChatBody) => OpenAIDoubleReply;
  /** The document sent for a json_schema response_format; default a sample of the schema. */
  json?: (req: OpenAIChatBody) => unknown;
  /** The images of a generation request; default `n` small PNGs made from the prompt. */
  images?: (req: OpenAIImagesBody) => OpenAIImage[];
  /** The audio of a speech request; default a few bytes with the format's header and OpenAI's Content-Type. */
  speech?: (req: OpenAISpeechBody) => { bytes: Buffer; contentType?: string };
  /** Sends no usage chunk even when asked (a proxy without stream_options support); default false. */
  noUsage?: boolean;
  /** Delay before the first chunk, ms; default 0. */
  firstTokenDelayMs?: number;
  /** Delay between chunks, ms; default 0. */
  tokenDelayMs?: number;
  port?: number;
}

/** POST /v1/images/generations, as far as the double looks at it. */
export interface OpenAIImagesBody {
  model: string;
  prompt: string;
  n?: number;
  size?: string;
  response_format?: "url" | "b64_json";
}
export interface OpenAIImage {
  b64_json?: string;
  url?: string;
  revised_prompt?: string;
}

/** POST /v1/audio/speech. */
export interface OpenAISpeechBody {
  model: string;
  input: string;
  voice: string;
  response_format?: string;
  speed?: number;
}

/** Content types OpenAI documents for each speech format. */
export const SPEECH_CONTENT_TYPES: Record<string, string> = {
  mp3: "audio/mpeg",
  opus: "audio/opus",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
};

/** A tiny file of each format: its real header, then bytes made from the text. */
export function fakeAudio(format: string, text: string): Buffer {
  const head: Record<string, Buffer> = {
    mp3: Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x00", "latin1"),
    opus: Buffer.from("OggS\x00\x02", "latin1"),
    aac: Buffer.from([0xff, 0xf1, 0x50, 0x80]),
    flac: Buffer.from("fLaC\x00\x00\x00\x22", "latin1"),
    wav: Buffer.from("RIFF\x24\x00\x00\x00WAVEfmt ", "latin1"),
    pcm: Buffer.alloc(0),
  };
  return Buffer.concat([head[format] ?? Buffer.alloc(0), Buffer.from(`audio of: ${text}`)]);
}

/** A small PNG-headed image made from the prompt (the double does not draw). */
export function fakePng(seed: string, size = 2000): Buffer {
  const body = Buffer.alloc(size - 8);
  for (let i = 0; i < body.length; i++) body[i] = seed.charCodeAt(i % Math.max(1, seed.length)) ^ (i & 0xff);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), body]);
}

export interface OpenAIDouble extends Closable {
  readonly url: string;
  /** Base URL for the openai client: `<url>/v1`. */
  readonly baseURL: string;
  readonly apiKey: string;
  /** The keys it accepts from now on (a rotation on the proxy: both while the old one is in its grace); default [apiKey]. */
  acceptKeys(keys: string[]): void;
  readonly requests: LoggedRequest[];
  /** The next request fails with this status and OpenAI's error body for it. */
  failNext(status: number, message?: string): void;
  down(): Promise<void>;
  up(): Promise<void>;
}

// As the real proxy (LiteLLM 1.108, master key only, no database) sends them: `code` is the status
// as a string. (A key other than the master key is not a 401 there: see sendBadKey.)
const ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: "invalid_request_error", code: "400", message: "Invalid request" },
  401: { type: "invalid_request_error", code: "401", message: "Invalid API key" },
  404: { type: "invalid_request_error", code: "model_not_found", message: "The model does not exist" },
  429: { type: "requests", code: "rate_limit_exceeded", message: "Rate limit reached for requests" },
  500: { type: "server_error", code: null, message: "The server had an error while processing your request." },
  503: { type: "server_error", code: null, message: "The engine is currently overloaded, please try again later" },
};
const errorBody = (status: number, message?: string) => {
  const e = ERRORS[status] ?? { type: "server_error", code: null, message: "error" };
  return { error: { message: message ?? e.message, type: e.type, param: null, code: e.code } };
};
/** The real proxy's answer to a key that is not its master key: 400, not 401. */
const sendBadKey = (res: ServerResponse) =>
  sendJson(res, 400, { error: { message: "No connected db.", type: "no_db_connection", param: null, code: "400" } });
/** The real proxy's answer to an alias not in model_list: 400 invalid_request_error, not 404. */
const sendUnknownModel = (res: ServerResponse, model: string) =>
  sendJson(
    res,
    400,
    errorBody(
      400,
      `/chat/completions: Invalid model name passed in model=${model}. Call \`/v1/models\` to view available models for your key.`,
    ),
  );

export async function startOpenAIDouble(opts: OpenAIDoubleOptions = {}): Promise<OpenAIDouble> {
  const apiKey = opts.apiKey ?? "sk-test";
  let accepted = [apiKey];
  const models = opts.models ?? ["lyra-fallback"];
  const requests: LoggedRequest[] = [];
  let failure: { status: number; message: string | undefined } | undefined;
  let seq = 0;
  const lastUser = (b: OpenAIChatBody) => {
    const c = b.messages.findLast((m) => m.role === "user")?.content;
    return typeof c === "string" ? c : Array.isArray(c) ? c.map((p: { text?: string }) => p.text ?? "").join("") : "";
  };
  const reply = opts.reply ?? ((b: OpenAIChatBody) => `Cloud says: ${lastUser(b)}`);
  const json = opts.json ?? ((b: OpenAIChatBody) => sampleForSchema(b.response_format?.json_schema?.schema));

  const handler = async (req: IncomingMessage, res: ServerResponse, gone: AbortSignal) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const body = req.method === "POST" ? await readJson(req) : undefined;
    const entry: LoggedRequest = { method: req.method ?? "GET", path, headers: req.headers, body, aborted: false };
    requests.push(entry);
    res.on("close", () => (entry.aborted = !res.writableFinished));
    if (!accepted.some((k) => req.headers.authorization === `Bearer ${k}`)) return sendBadKey(res);
    if (failure) {
      const f = failure;
      failure = undefined;
      return sendJson(res, f.status, errorBody(f.status, f.message));
    }
    if (req.method === "GET" && path === "/v1/models") {
      return sendJson(res, 200, {
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "litellm" })),
      });
    }
    if (req.method === "POST" && path === "/v1/images/generations") return images(res, body as OpenAIImagesBody);
    if (req.method === "POST" && path === "/v1/audio/speech") return speech(res, body as OpenAISpeechBody);
    if (req.method !== "POST" || path !== "/v1/chat/completions") return sendJson(res, 404, errorBody(404, `Unknown path ${path}`));
    const b = body as OpenAIChatBody;
    if (!models.includes(b.model)) return sendUnknownModel(res, b.model);
    const n = ++seq;
    const r = b.response_format?.type === "json_schema" ? JSON.stringify(json(b)) : reply(b);
    const content = typeof r === "string" ? r : (r.content ?? "");
    const calls = (typeof r === "string" ? [] : (r.tool_calls ?? [])).map((c, i) => ({
      id: `call_${n}_${i}`,
      name: c.name,
      args: JSON.stringify(c.arguments),
    }));
    const finish = calls.length ? "tool_calls" : "stop";
    const promptTokens = b.messages.reduce((n, m) => n + tokens(typeof m.content === "string" ? m.content : "").length, 0);
    const pieces = tokens(content);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: pieces.length + calls.length,
      total_tokens: promptTokens + pieces.length + calls.length,
    };
    const id = `chatcmpl-${n}`;
    const created = Math.floor(Date.now() / 1000);
    await sleep(opts.firstTokenDelayMs ?? 0, gone);
    if (!b.stream) {
      const message = {
        role: "assistant",
        content: calls.length && !content ? null : content,
        ...(calls.length
          ? { tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.args } })) }
          : {}),
      };
      return sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model: b.model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
        usage,
      });
    }
    const withUsage = b.stream_options?.include_usage === true && !opts.noUsage;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    // The real proxy's chunks: no `usage: null` or `finish_reason: null` fields, the role on the
    // first text delta (no empty opening chunk), and the usage chunk after the finish with one
    // empty-delta choice (OpenAI itself sends `choices: []` there).
    const send = (choices: unknown[], extra: object = {}) => {
      if (!gone.aborted)
        res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: b.model, choices, ...extra })}\n\n`);
    };
    const delta = (d: object, finish_reason?: string) => send([{ index: 0, delta: d, ...(finish_reason ? { finish_reason } : {}) }]);
    for (const [i, piece] of pieces.entries()) {
      await sleep(opts.tokenDelayMs ?? 0, gone);
      delta(i === 0 ? { role: "assistant", content: piece } : { content: piece });
    }
    if (!pieces.length) delta({ role: "assistant", content: "" });
    for (const [index, c] of calls.entries()) {
      delta({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] });
      // Arguments arrive in small fragments, as real servers send them.
      for (let i = 0; i < c.args.length; i += 7) {
        await sleep(opts.tokenDelayMs ?? 0, gone);
        delta({ tool_calls: [{ index, function: { arguments: c.args.slice(i, i + 7) } }] });
      }
    }
    delta({}, finish);
    if (withUsage) send([{ index: 0, delta: {} }], { usage });
    if (!gone.aborted) res.end("data: [DONE]\n\n");
  };

  // The documented checks of the images and speech endpoints: 400 invalid_request_error with `param`.
  const invalid = (res: ServerResponse, param: string, message: string) =>
    sendJson(res, 400, { error: { message, type: "invalid_request_error", param, code: null } });
  const images = (res: ServerResponse, b: OpenAIImagesBody) => {
    if (!models.includes(b.model)) return sendJson(res, 404, errorBody(404, `The model \`${b.model}\` does not exist`));
    if (typeof b.prompt !== "string" || !b.prompt) return invalid(res, "prompt", "You must provide a prompt.");
    const n = b.n ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 10) return invalid(res, "n", `${n} is not valid for 'n': it must be from 1 to 10.`);
    const data = opts.images
      ? opts.images(b)
      : Array.from({ length: n }, (_, i) => ({
          b64_json: fakePng(`${b.prompt}#${i}`).toString("base64"),
          revised_prompt: `${b.prompt} (revised)`,
        }));
    return sendJson(res, 200, {
      created: Math.floor(Date.now() / 1000),
      data,
      usage: { input_tokens: tokens(b.prompt).length, output_tokens: 0, total_tokens: tokens(b.prompt).length },
    });
  };
  const speech = (res: ServerResponse, b: OpenAISpeechBody) => {
    if (!models.includes(b.model)) return sendJson(res, 404, errorBody(404, `The model \`${b.model}\` does not exist`));
    if (typeof b.input !== "string" || !b.input) return invalid(res, "input", "You must provide input text.");
    if (b.input.length > 4096) return invalid(res, "input", `'input' is too long: ${b.input.length} characters, the maximum is 4096.`);
    if (typeof b.voice !== "string" || !b.voice) return invalid(res, "voice", "You must provide a voice.");
    const format = b.response_format ?? "mp3";
    if (!SPEECH_CONTENT_TYPES[format]) return invalid(res, "response_format", `'${format}' is not one of mp3, opus, aac, flac, wav, pcm.`);
    const out = opts.speech ? opts.speech(b) : { bytes: fakeAudio(format, b.input) };
    res.writeHead(200, { "content-type": out.contentType ?? SPEECH_CONTENT_TYPES[format], "content-length": out.bytes.length });
    res.end(out.bytes);
  };

  const server = await startDoubleServer(handler, opts.port);
  return {
    url: server.url,
    baseURL: `${server.url}/v1`,
    apiKey,
    acceptKeys: (keys) => void (accepted = [...keys]),
    requests,
    failNext: (status, message) => (failure = { status, message }),
    down: () => server.down(),
    up: () => server.up(),
    ...lifeOf(server),
  };
}
