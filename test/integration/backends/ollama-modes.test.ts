/**
 * The Ollama backend's tool modes, thinking and fixed load parameters, against the double (which
 * behaves as real Ollama 0.24 does there; test/real/ollama-*.test.ts check the real server).
 */
import { describe, expect, it } from "vitest";
import { createOllamaBackend } from "../../../agents/backends/index.ts";
import { ContextOverflowError, ModelCapabilityError } from "../../../agents/errors.ts";
import { startOllamaDouble, type OllamaChatBody } from "../../doubles/ollama.ts";
import { collect, rejection } from "./collect.ts";

const tools = [
  {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
];
const ask = { model: "tiny", messages: [{ role: "user" as const, content: "weather in Oslo?" }] };
const chats = (o: { chats(): OllamaChatBody[] }) => o.chats();

describe("constrained tool-call mode", () => {
  it("auto: a model without the tools capability gets a format union and no tools; its JSON call becomes a tool_call", async () => {
    await using ollama = await startOllamaDouble({
      models: ["tiny"],
      capabilities: { tiny: ["completion"] },
      json: () => ({ tool: "get_weather", arguments: { city: "Oslo" } }),
    });
    const backend = createOllamaBackend({ host: ollama.url });
    const out = await collect(backend.chat({ ...ask, tools }));
    expect(out.calls).toEqual([{ id: "call_0", name: "get_weather", arguments: { city: "Oslo" } }]);
    expect(out.text).toBe("");
    const body = chats(ollama)[0]!;
    expect(body.tools).toBeUndefined();
    expect(JSON.stringify(body.format)).toContain('"const":"get_weather"');
    expect(body.messages?.[0]).toMatchObject({ role: "system" });
    expect(body.messages?.[0]?.content).toContain("get_weather");
    // The capability is asked once per model.
    await collect(backend.chat({ ...ask, tools }));
    expect(ollama.requests.filter((r) => r.path === "/api/show").length).toBe(1);
  });

  it("streams an answer's text as it is generated, in more than one delta, escapes decoded", async () => {
    await using ollama = await startOllamaDouble({
      models: ["tiny"],
      capabilities: { tiny: ["completion"] },
      json: () => ({ answer: 'It is "sunny" in Oslo\ntoday' }),
    });
    const backend = createOllamaBackend({ host: ollama.url });
    const out = await collect(backend.chat({ ...ask, tools }));
    expect(out.text).toBe('It is "sunny" in Oslo\ntoday');
    expect(out.chunks.filter((c) => c.type === "delta").length).toBeGreaterThan(1);
    expect(out.calls).toEqual([]);
  });

  it("earlier calls and results are sent as the JSON the model wrote and a user turn", async () => {
    await using ollama = await startOllamaDouble({
      models: ["tiny"],
      capabilities: { tiny: ["completion"] },
      json: () => ({ answer: "sunny" }),
    });
    const backend = createOllamaBackend({ host: ollama.url });
    await collect(
      backend.chat({
        model: "tiny",
        tools,
        toolMode: "constrained",
        messages: [
          { role: "user", content: "weather?" },
          { role: "assistant", content: "", tool_calls: [{ id: "call_0", name: "get_weather", arguments: { city: "Oslo" } }] },
          { role: "tool", content: "sunny", tool_call_id: "call_0", tool_name: "get_weather" },
        ],
      }),
    );
    const msgs = chats(ollama)[0]!.messages!;
    expect(msgs.slice(-2)).toEqual([
      { role: "assistant", content: '{"tool":"get_weather","arguments":{"city":"Oslo"}}' },
      { role: "user", content: "Result of tool get_weather: sunny" },
    ]);
    expect(ollama.requests.some((r) => r.path === "/api/show")).toBe(false);
  });

  it("native mode on a model without the capability is the server's 400, as a ModelCapabilityError", async () => {
    await using ollama = await startOllamaDouble({ models: ["tiny"], capabilities: { tiny: ["completion"] } });
    const backend = createOllamaBackend({ host: ollama.url });
    const err = await rejection(collect(backend.chat({ ...ask, tools, toolMode: "native" })));
    expect(err).toBeInstanceOf(ModelCapabilityError);
    expect(err.message).toContain("registry.ollama.ai/library/tiny does not support tools");
  });

  it("a model with the capability keeps native tools", async () => {
    await using ollama = await startOllamaDouble({ models: ["tiny"] });
    const backend = createOllamaBackend({ host: ollama.url });
    await collect(backend.chat({ ...ask, tools }));
    expect(chats(ollama)[0]!.tools?.map((t) => t.function.name)).toEqual(["get_weather"]);
    expect(chats(ollama)[0]!.format).toBeUndefined();
  });
});

describe("native streaming, thinking and load parameters", () => {
  it("tool calls in several stream records are all yielded, with distinct ids", async () => {
    await using ollama = await startOllamaDouble({
      reply: () => ({
        content: "Let me check. ",
        tool_calls: [
          { function: { name: "get_weather", arguments: { city: "Oslo" } } },
          { function: { name: "get_weather", arguments: { city: "Bergen" } } },
        ],
      }),
    });
    const backend = createOllamaBackend({ host: ollama.url });
    const out = await collect(backend.chat({ ...ask, model: "qwen3:8b", tools }));
    expect(out.calls.map((c) => [c.id, c.arguments.city])).toEqual([
      ["call_0", "Oslo"],
      ["call_1", "Bergen"],
    ]);
  });

  it("message.thinking is never an answer delta; the final counts it", async () => {
    await using ollama = await startOllamaDouble({ reply: () => ({ thinking: "The user wants a greeting.", content: "Hello!" }) });
    const backend = createOllamaBackend({ host: ollama.url });
    const out = await collect(backend.chat({ ...ask, model: "qwen3:8b" }));
    expect(out.text).toBe("Hello!");
    expect(out.final?.thinking_chars).toBe("The user wants a greeting.".length);
  });

  it("<think> tags in content, even cut across records, are never shown as the answer", async () => {
    await using ollama = await startOllamaDouble({ reply: () => ({ content: "<think> hmm, a greeting </think> Hello there" }) });
    const backend = createOllamaBackend({ host: ollama.url });
    const out = await collect(backend.chat({ ...ask, model: "qwen3:8b" }));
    expect(out.text.trim()).toBe("Hello there");
    expect(out.final?.thinking_chars).toBeGreaterThan(0);
  });

  it("num_ctx, keep_alive and truncate:false are always sent; warm loads with the role's num_ctx", async () => {
    await using ollama = await startOllamaDouble();
    const backend = createOllamaBackend({ host: ollama.url });
    await collect(backend.chat({ ...ask, model: "qwen3:8b" }));
    expect(chats(ollama)[0]).toMatchObject({ options: { num_ctx: 4096 }, keep_alive: "30m", truncate: false });
    await backend.warm("qwen3:8b", { numCtx: 8192 });
    expect(ollama.requests.findLast((r) => r.path === "/api/generate")?.body).toMatchObject({
      options: { num_ctx: 8192 },
      keep_alive: "30m",
    });
  });

  it("a prompt longer than num_ctx is a ContextOverflowError, not a silent truncation", async () => {
    await using ollama = await startOllamaDouble();
    const backend = createOllamaBackend({ host: ollama.url });
    const long = "word ".repeat(600);
    const err = await rejection(
      collect(backend.chat({ model: "qwen3:8b", messages: [{ role: "user", content: long }], options: { num_ctx: 512 } })),
    );
    expect(err).toBeInstanceOf(ContextOverflowError);
    expect(err.message).toMatch(/longer than its num_ctx.*raise num_ctx/);
  });
});
