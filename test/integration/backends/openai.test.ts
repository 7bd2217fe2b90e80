import { describe, expect, it } from "vitest";
import { createOpenAIBackend } from "../../../agents/backends/index.ts";
import {
  AbortedError,
  BackendAuthError,
  BackendBusyError,
  BackendConfigError,
  BackendError,
  BackendUnavailableError,
  FirstTokenTimeoutError,
  ModelNotFoundError,
} from "../../../agents/errors.ts";
import { startOpenAIDouble, type OpenAIChatBody } from "../../doubles/openai.ts";
import { collect, rejection } from "./collect.ts";

const hello = { model: "lyra-fallback", messages: [{ role: "user" as const, content: "hello there" }] };
const lastBody = (d: { requests: { path: string; body: unknown }[] }) =>
  d.requests.findLast((r) => r.path === "/v1/chat/completions")?.body as OpenAIChatBody & Record<string, unknown>;

describe("OpenAI-compatible backend", () => {
  it("streams deltas and a final with usage, backend 'openai' and the alias as model", async () => {
    await using llm = await startOpenAIDouble();
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, env: { LITELLM_API_KEY: llm.apiKey } });
    const out = await collect(backend.chat({ ...hello, options: { temperature: 0.3, max_tokens: 50 } }));
    expect(out.text).toBe("Cloud says: hello there");
    expect(out.final).toMatchObject({
      model: "lyra-fallback",
      backend: "openai",
      done_reason: "stop",
      usage: { prompt_tokens: 2, completion_tokens: 4 },
    });
    expect(out.final?.timings.first_token_ms).toBeGreaterThan(0);
    expect(lastBody(llm)).toMatchObject({ stream: true, stream_options: { include_usage: true }, temperature: 0.3, max_tokens: 50 });
  });

  it("a proxy that sends no usage chunk: usage estimated from the text (4 characters a token), marked estimated, never 0", async () => {
    await using llm = await startOpenAIDouble({ noUsage: true });
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, env: { LITELLM_API_KEY: llm.apiKey } });
    const out = await collect(backend.chat(hello));
    expect(out.final?.usage).toEqual({
      prompt_tokens: Math.ceil("hello there".length / 4),
      completion_tokens: Math.ceil(out.text.length / 4),
      estimated: true,
    });
  });

  it("assembles streamed tool-call fragments into whole calls", async () => {
    await using llm = await startOpenAIDouble({
      reply: () => ({
        tool_calls: [
          { name: "get_weather", arguments: { city: "Oslo", unit: "celsius" } },
          { name: "get_time", arguments: { tz: "Europe/Oslo" } },
        ],
      }),
    });
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey });
    const tools = [
      { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
    ];
    const out = await collect(backend.chat({ ...hello, tools }));
    expect(out.calls).toEqual([
      { id: "call_1_0", name: "get_weather", arguments: { city: "Oslo", unit: "celsius" } },
      { id: "call_1_1", name: "get_time", arguments: { tz: "Europe/Oslo" } },
    ]);
    expect(out.final?.done_reason).toBe("tool_calls");
    expect(lastBody(llm).tools).toEqual([{ type: "function", function: tools[0] }]);
  });

  it("sends tool results, earlier calls and images in OpenAI's shapes", async () => {
    await using llm = await startOpenAIDouble();
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey });
    await collect(
      backend.chat({
        model: "lyra-fallback",
        messages: [
          { role: "user", content: "look", images: ["/9j/4AAQSkZJRg=="] },
          { role: "assistant", content: "", tool_calls: [{ id: "call_7", name: "zoom", arguments: { x: 1 } }] },
          { role: "tool", content: "zoomed", tool_call_id: "call_7" },
        ],
      }),
    );
    expect(lastBody(llm).messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "look" },
          { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQSkZJRg==" } },
        ],
      },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ id: "call_7", type: "function", function: { name: "zoom", arguments: '{"x":1}' } }],
      },
      { role: "tool", tool_call_id: "call_7", content: "zoomed" },
    ]);
  });

  it("turns format into a strict json_schema response_format", async () => {
    await using llm = await startOpenAIDouble({ json: () => ({ specialist: "philosopher", confidence: 1, reason: "why" }) });
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey });
    const format = {
      type: "object",
      properties: { specialist: { type: "string" } },
      required: ["specialist"],
      additionalProperties: false,
    };
    const out = await collect(backend.chat({ ...hello, format }));
    expect(JSON.parse(out.text)).toMatchObject({ specialist: "philosopher" });
    expect(lastBody(llm).response_format).toEqual({ type: "json_schema", json_schema: { name: "answer", schema: format, strict: true } });
  });

  it("maps 401, 429, 500 and 404 to typed errors", async () => {
    await using llm = await startOpenAIDouble();
    const wrongKey = createOpenAIBackend({ baseURL: llm.baseURL, apiKeyEnv: "MY_KEY", env: { MY_KEY: "sk-wrong" } });
    const auth = await rejection(collect(wrongKey.chat(hello)));
    expect(auth).toBeInstanceOf(BackendAuthError);
    expect(auth.message).toContain("MY_KEY");
    // The real proxy without a database answers a key it does not know with 400 no_db_connection.
    expect((auth as BackendAuthError).status).toBe(400);

    const backend = createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey });
    llm.failNext(429);
    expect(await rejection(collect(backend.chat(hello)))).toBeInstanceOf(BackendBusyError);
    llm.failNext(500);
    const e500 = await rejection(collect(backend.chat(hello)));
    expect(e500.constructor).toBe(BackendError);
    expect((e500 as BackendError).status).toBe(500);
    const missing = await rejection(collect(backend.chat({ ...hello, model: "no-such-alias" })));
    expect(missing).toBeInstanceOf(ModelNotFoundError);
    expect(missing.message).toContain("model alias 'no-such-alias' is not known to LiteLLM");
    // One attempt per call: the client's own retries are off, so failures are reported at once.
    expect(llm.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(4);
  });

  it("a proxy that is down is BackendUnavailableError", async () => {
    await using llm = await startOpenAIDouble();
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey });
    await llm.down();
    expect(await rejection(collect(backend.chat(hello)))).toBeInstanceOf(BackendUnavailableError);
  });

  it("a missing key variable is refused at creation, naming the variable", () => {
    expect(() => createOpenAIBackend({ baseURL: "http://127.0.0.1:1/v1", apiKeyEnv: "LITELLM_KEY_PROD", env: {} })).toThrow(
      BackendConfigError,
    );
    expect(() => createOpenAIBackend({ baseURL: "http://127.0.0.1:1/v1", env: {} })).toThrow(
      /LITELLM_API_KEY is not set; export LITELLM_API_KEY=/,
    );
  });

  it("first-token timeout and caller abort stop the request", async () => {
    await using llm = await startOpenAIDouble({ firstTokenDelayMs: 5_000 });
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey });
    expect(await rejection(collect(backend.chat(hello, { firstTokenTimeoutMs: 100 })))).toBeInstanceOf(FirstTokenTimeoutError);
    await expect.poll(() => llm.requests[0]?.aborted).toBe(true);
    const ac = new AbortController();
    const call = rejection(collect(backend.chat(hello, { signal: ac.signal })));
    await expect.poll(() => llm.requests.length).toBe(2);
    ac.abort();
    expect(await call).toBeInstanceOf(AbortedError);
  });

  it("health lists the aliases the proxy serves", async () => {
    await using llm = await startOpenAIDouble({ models: ["lyra-fallback", "lyra-vision"] });
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey });
    expect(await backend.health()).toEqual({ ok: true, models: ["lyra-fallback", "lyra-vision"], loaded: [] });
    await llm.down();
    expect(await backend.health()).toMatchObject({ ok: false });
  });
});
