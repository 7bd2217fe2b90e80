import { describe, expect, it } from "vitest";
import { createOllamaBackend } from "../../../agents/backends/index.ts";
import {
  AbortedError,
  BackendBusyError,
  BackendError,
  BackendTimeoutError,
  BackendUnavailableError,
  FirstTokenTimeoutError,
  ModelNotFoundError,
} from "../../../agents/errors.ts";
import { startOllamaDouble, type OllamaChatBody } from "../../doubles/ollama.ts";
import { collect, rejection } from "./collect.ts";

const hello = { model: "qwen3:8b", messages: [{ role: "user" as const, content: "hello there" }] };
const bodyOf = (o: { requests: { path: string; body: unknown }[] }, path = "/api/chat") =>
  o.requests.findLast((r) => r.path === path)?.body as OllamaChatBody & Record<string, unknown>;

describe("Ollama backend", () => {
  it("streams deltas, then a final with usage and timings from Ollama's durations", async () => {
    await using ollama = await startOllamaDouble({ loadDelayMs: 30 });
    const backend = createOllamaBackend({ host: ollama.url });
    const out = await collect(backend.chat({ ...hello, options: { temperature: 0.2, num_ctx: 4096, max_tokens: 64 }, keepAlive: "30m" }));
    expect(out.text).toBe("You said: hello there");
    expect(out.chunks.filter((c) => c.type === "delta").length).toBeGreaterThan(1);
    expect(out.chunks.at(-1)?.type).toBe("final");
    expect(out.final).toMatchObject({
      model: "qwen3:8b",
      backend: "ollama",
      done_reason: "stop",
      usage: { prompt_tokens: 2, completion_tokens: 4 },
    });
    expect(out.final?.timings.load_ms).toBeGreaterThanOrEqual(25);
    expect(out.final?.timings.total_ms).toBeGreaterThanOrEqual(out.final?.timings.load_ms ?? 0);
    expect(out.final?.timings.first_token_ms).toBeGreaterThan(0);
    const body = bodyOf(ollama);
    expect(body).toMatchObject({ stream: true, keep_alive: "30m", options: { temperature: 0.2, num_ctx: 4096, num_predict: 64 } });
  });

  it("sends tools in Ollama's format and turns tool_calls into calls with ids", async () => {
    await using ollama = await startOllamaDouble({
      reply: () => ({
        tool_calls: [{ function: { name: "get_weather", arguments: { city: "Oslo" } } }, { function: { name: "get_time", arguments: {} } }],
      }),
    });
    const backend = createOllamaBackend({ host: ollama.url });
    const tools = [
      { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } } } },
    ];
    const out = await collect(backend.chat({ ...hello, tools }));
    expect(out.calls).toEqual([
      { id: "call_0", name: "get_weather", arguments: { city: "Oslo" } },
      { id: "call_1", name: "get_time", arguments: {} },
    ]);
    expect(bodyOf(ollama).tools).toEqual([{ type: "function", function: tools[0] }]);
  });

  it("passes earlier tool calls and tool results back in Ollama's shape", async () => {
    await using ollama = await startOllamaDouble();
    const backend = createOllamaBackend({ host: ollama.url });
    await collect(
      backend.chat({
        model: "qwen3:8b",
        messages: [
          { role: "user", content: "weather?" },
          { role: "assistant", content: "", tool_calls: [{ id: "call_0", name: "get_weather", arguments: { city: "Oslo" } }] },
          { role: "tool", content: "sunny", tool_call_id: "call_0", tool_name: "get_weather" },
        ],
      }),
    );
    expect(bodyOf(ollama).messages?.slice(1)).toEqual([
      { role: "assistant", content: "", tool_calls: [{ function: { name: "get_weather", arguments: { city: "Oslo" } } }] },
      { role: "tool", content: "sunny", tool_name: "get_weather" },
    ]);
  });

  it("passes a JSON schema format through and returns the JSON document", async () => {
    await using ollama = await startOllamaDouble({ json: () => ({ specialist: "pragmatist", confidence: 0.9, reason: "how-to" }) });
    const backend = createOllamaBackend({ host: ollama.url });
    const format = { type: "object", properties: { specialist: { type: "string" } }, required: ["specialist"] };
    const out = await collect(backend.chat({ ...hello, format }));
    expect(JSON.parse(out.text)).toEqual({ specialist: "pragmatist", confidence: 0.9, reason: "how-to" });
    expect(bodyOf(ollama).format).toEqual(format);
  });

  it("a format answer cut at the end of its JSON reports usage, prompt tokens estimated (Ollama sends them only at the end)", async () => {
    await using ollama = await startOllamaDouble({ json: () => ({ specialist: "pragmatist" }), jsonPadding: " \n \n \n \n \n \n" });
    const backend = createOllamaBackend({ host: ollama.url });
    const format = { type: "object", properties: { specialist: { type: "string" } }, required: ["specialist"] };
    const out = await collect(backend.chat({ ...hello, format }));
    expect(JSON.parse(out.text)).toEqual({ specialist: "pragmatist" });
    expect(out.final?.usage.estimated).toBe(true);
    expect(out.final?.usage.prompt_tokens).toBe(Math.ceil(hello.messages[0]!.content.length / 4));
    expect(out.final?.usage.completion_tokens).toBeGreaterThan(0);
  });

  it("passes base64 images through untouched", async () => {
    await using ollama = await startOllamaDouble({ models: ["llava:7b"] });
    const backend = createOllamaBackend({ host: ollama.url });
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    await collect(backend.chat({ model: "llava:7b", messages: [{ role: "user", content: "what is this?", images: [png] }] }));
    expect(bodyOf(ollama).messages?.[0]?.images).toEqual([png]);
  });

  it("a model that is not pulled is ModelNotFoundError saying how to pull it", async () => {
    await using ollama = await startOllamaDouble();
    const backend = createOllamaBackend({ host: ollama.url });
    const err = await rejection(collect(backend.chat({ ...hello, model: "llama9:70b" })));
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect(err.message).toBe(
      `model 'llama9:70b' is not pulled on ${ollama.url}; ` +
        `run 'ollama pull llama9:70b' there (or 'npm run setup' for the models of the tests)`,
    );
    expect((err as ModelNotFoundError).status).toBe(404);
  });

  it("a server that is down is BackendUnavailableError; it works again when it is back", async () => {
    await using ollama = await startOllamaDouble();
    const backend = createOllamaBackend({ host: ollama.url });
    await ollama.down();
    const err = await rejection(collect(backend.chat(hello)));
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toContain(`Ollama is not reachable at ${ollama.url}`);
    await ollama.up();
    expect((await collect(backend.chat(hello))).text).toBe("You said: hello there");
  });

  it("a full server (503) is BackendBusyError; a 500 is BackendError", async () => {
    await using ollama = await startOllamaDouble({ parallel: 1, firstTokenDelayMs: 1_000 });
    const backend = createOllamaBackend({ host: ollama.url });
    const first = collect(backend.chat(hello));
    await expect.poll(() => ollama.requests.length).toBe(1);
    const err = await rejection(collect(backend.chat(hello)));
    expect(err).toBeInstanceOf(BackendBusyError);
    expect((err as BackendBusyError).status).toBe(503);
    expect((await first).text).toBe("You said: hello there");
    ollama.failNext(500, "llama runner process has terminated");
    const e500 = await rejection(collect(backend.chat(hello)));
    expect(e500.constructor).toBe(BackendError);
    expect(e500.message).toContain("llama runner process has terminated");
  });

  it("no first token in time is FirstTokenTimeoutError, and the HTTP request is aborted", async () => {
    await using ollama = await startOllamaDouble({ loadDelayMs: 5_000 });
    const backend = createOllamaBackend({ host: ollama.url });
    const started = Date.now();
    const err = await rejection(collect(backend.chat(hello, { firstTokenTimeoutMs: 100 })));
    expect(err).toBeInstanceOf(FirstTokenTimeoutError);
    expect(err.message).toContain("no first token within 100 ms");
    expect(Date.now() - started).toBeLessThan(4_000);
    await expect.poll(() => ollama.requests[0]?.aborted).toBe(true);
  });

  it("the caller's signal stops the stream and aborts the request", async () => {
    await using ollama = await startOllamaDouble({ tokenDelayMs: 50, reply: () => "one two three four five six seven eight nine ten" });
    const backend = createOllamaBackend({ host: ollama.url });
    const ac = new AbortController();
    const seen: string[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of backend.chat(hello, { signal: ac.signal })) {
          if (c.type === "delta") seen.push(c.text);
          if (seen.length === 2) ac.abort();
        }
      })(),
    );
    expect(err).toBeInstanceOf(AbortedError);
    expect(seen.length).toBeLessThan(10);
    await expect.poll(() => ollama.requests[0]?.aborted).toBe(true);
  });

  it("breaking out of the stream closes the request", async () => {
    await using ollama = await startOllamaDouble({ tokenDelayMs: 50, reply: () => "one two three four five six" });
    const backend = createOllamaBackend({ host: ollama.url });
    for await (const c of backend.chat(hello)) if (c.type === "delta") break;
    await expect.poll(() => ollama.requests[0]?.aborted).toBe(true);
  });

  it("health lists pulled and loaded models; a down server is not ok", async () => {
    await using ollama = await startOllamaDouble({ models: ["qwen3:8b", "qwen3:4b"] });
    const backend = createOllamaBackend({ host: ollama.url });
    expect(await backend.health()).toEqual({ ok: true, models: ["qwen3:8b", "qwen3:4b"], loaded: [] });
    await collect(backend.chat(hello));
    expect((await backend.health()).loaded).toEqual(["qwen3:8b"]);
    await ollama.down();
    const h = await backend.health({ timeoutMs: 2_000 });
    expect(h).toMatchObject({ ok: false, models: [], loaded: [] });
    expect(h.error).toContain("not reachable");
  });

  it("warm loads the model through /api/generate with keep_alive", async () => {
    await using ollama = await startOllamaDouble({ models: ["qwen3:4b"] });
    const backend = createOllamaBackend({ host: ollama.url, keepAlive: "1h" });
    await backend.warm("qwen3:4b");
    expect(bodyOf(ollama, "/api/generate")).toMatchObject({ model: "qwen3:4b", prompt: "", keep_alive: "1h", stream: false });
    expect(ollama.loaded()).toEqual(["qwen3:4b"]);
    await backend.warm("qwen3:4b", { keepAlive: -1 });
    expect(bodyOf(ollama, "/api/generate").keep_alive).toBe(-1);
    expect(await rejection(backend.warm("nope:1b"))).toBeInstanceOf(ModelNotFoundError);
  });

  it("a model load that outlasts the warm-up timeout is BackendTimeoutError, and the request is aborted", async () => {
    await using ollama = await startOllamaDouble({ loadDelayMs: 5_000 });
    const backend = createOllamaBackend({ host: ollama.url });
    const err = await rejection(backend.warm("qwen3:8b", { timeoutMs: 100 }));
    expect(err).toBeInstanceOf(BackendTimeoutError);
    expect(err.message).toBe(`loading model 'qwen3:8b' on ${ollama.url} did not finish within 100 ms`);
    await expect.poll(() => ollama.requests[0]?.aborted).toBe(true);
  });

  it("accepts OLLAMA_HOST-style hosts (host:port)", async () => {
    await using ollama = await startOllamaDouble();
    const backend = createOllamaBackend({ host: ollama.url.replace("http://", "") });
    expect((await collect(backend.chat(hello))).text).toBe("You said: hello there");
  });
});
