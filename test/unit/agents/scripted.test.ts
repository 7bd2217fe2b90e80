import { afterAll, describe, expect, it } from "vitest";
import { createScriptedBackend, type ModelChunk, type ModelRequest } from "../../../agents/backends/index.ts";
import { AbortedError, FirstTokenTimeoutError, ScriptError } from "../../../agents/errors.ts";
import { loadMeshConfig, RouterChoice } from "../../../schemas/index.ts";

const ask = (content: string, extra: Partial<ModelRequest> = {}): ModelRequest => ({
  model: "m",
  messages: [{ role: "user", content }],
  ...extra,
});

async function run(stream: AsyncIterable<ModelChunk>) {
  const chunks: ModelChunk[] = [];
  for await (const c of stream) chunks.push(c);
  const text = chunks.flatMap((c) => (c.type === "delta" ? [c.text] : [])).join("");
  return { chunks, text, final: chunks.find((c) => c.type === "final") };
}

describe("scripted backend", () => {
  const backend = createScriptedBackend([
    { match: "^hello", reply: "Hi! You said: {input}" },
    { match: "weather", tool_call: { name: "get_weather", arguments: { city: "Oslo" } }, reply: "It is {tool_result}." },
    { match: "route", json: { specialist: "pragmatist", confidence: 1, reason: "test" } },
    { reply: "default answer" },
  ]);
  // Every rule of the shared script is exercised by some test below.
  afterAll(() => backend.assertAllUsed());

  it("first matching rule wins (case-insensitive); the reply streams word by word", async () => {
    const out = await run(backend.chat(ask("HELLO there")));
    expect(out.text).toBe("Hi! You said: HELLO there");
    expect(out.chunks.filter((c) => c.type === "delta")).toHaveLength(5);
    expect(out.final).toMatchObject({
      type: "final",
      backend: "scripted",
      model: "scripted:m",
      done_reason: "stop",
      usage: { prompt_tokens: 2, completion_tokens: 5 },
    });
  });

  it("a rule without match is the default", async () => {
    expect((await run(backend.chat(ask("something else")))).text).toBe("default answer");
  });

  it("a tool rule calls the tool, then replies once the result is back", async () => {
    const tools = [{ name: "get_weather", description: "", parameters: {} }];
    const first = await run(backend.chat(ask("weather in Oslo?", { tools })));
    expect(first.chunks[0]).toEqual({ type: "tool_call", call: { id: "call_0", name: "get_weather", arguments: { city: "Oslo" } } });
    expect(first.final).toMatchObject({ done_reason: "tool_calls" });
    const second = await run(
      backend.chat({
        model: "m",
        tools,
        messages: [
          { role: "user", content: "weather in Oslo?" },
          { role: "assistant", content: "", tool_calls: [{ id: "call_0", name: "get_weather", arguments: { city: "Oslo" } }] },
          { role: "tool", content: "sunny", tool_call_id: "call_0" },
        ],
      }),
    );
    expect(second.text).toBe("It is sunny.");
  });

  it("a tool the request does not grant is a loud ScriptError", async () => {
    await expect(run(backend.chat(ask("weather?")))).rejects.toThrow(/calls tool 'get_weather', but the request grants only \[\]/);
  });

  it("with a format, the rule's json is the answer", async () => {
    const out = await run(backend.chat(ask("please route this", { format: { type: "object" } })));
    expect(JSON.parse(out.text)).toEqual({ specialist: "pragmatist", confidence: 1, reason: "test" });
  });

  it("a format the matched rule cannot answer is a ScriptError", async () => {
    await expect(run(backend.chat(ask("hello", { format: { type: "object" } })))).rejects.toThrow(ScriptError);
  });

  it("no matching rule and no default: a loud ScriptError naming the message", async () => {
    const strict = createScriptedBackend([{ match: "^yes$", reply: "ok" }]);
    const err = await run(strict.chat(ask("maybe"))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScriptError);
    expect((err as Error).message).toBe(
      `scripted backend: no rule matches "maybe" for model 'm', and the script has no default rule; add a rule without 'match'`,
    );
  });

  it("refuses an invalid rule at creation", () => {
    expect(() => createScriptedBackend([{ match: "(", reply: "x" }])).toThrow(
      /script rule 0 is invalid: match is not a valid regular expression/,
    );
    expect(() => createScriptedBackend([{ match: "x" }])).toThrow(/has nothing to answer with/);
  });

  it("honours delay_ms, the first-token timeout and the caller's signal", async () => {
    const slow = createScriptedBackend([{ reply: "a b c d e f", delay_ms: 30 }]);
    await expect(run(slow.chat(ask("x"), { firstTokenTimeoutMs: 5 }))).rejects.toBeInstanceOf(FirstTokenTimeoutError);
    const ac = new AbortController();
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of slow.chat(ask("x"), { signal: ac.signal })) {
        if (c.type === "delta") seen.push(c.text);
        ac.abort();
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(seen).toHaveLength(1);
  });

  it("assertAllUsed names each rule that never matched, and leaves optional ones alone", async () => {
    const b = createScriptedBackend([
      { match: "^hello", reply: "hi" },
      { match: "^bye", reply: "bye" },
      { match: "^maybe", reply: "perhaps", optional: true },
      { reply: "default" },
    ]);
    await run(b.chat(ask("hello")));
    expect(() => b.assertAllUsed()).toThrow(ScriptError);
    expect(() => b.assertAllUsed()).toThrow(
      `scripted backend: rule 1 (match "^bye"), rule 3 (the default) never matched a request; ` +
        `remove the rule, fix its match, or mark it optional: true if it matches only sometimes`,
    );
    await run(b.chat(ask("bye")));
    await run(b.chat(ask("anything")));
    expect(() => b.assertAllUsed()).not.toThrow();
  });

  it("records requests, and health reports warmed models", async () => {
    const b = createScriptedBackend([{ reply: "x" }]);
    await run(b.chat(ask("one")));
    expect(b.requests.map((r) => r.messages[0]?.content)).toEqual(["one"]);
    await b.warm("m");
    expect(await b.health()).toEqual({ ok: true, models: ["m"], loaded: ["m"] });
  });
});

describe("the dev mesh's scripts", () => {
  it("route practical questions to the pragmatist and why-questions to the philosopher, with labelled replies", async () => {
    const cfg = await loadMeshConfig(new URL("../../../config/mesh.dev.yaml", import.meta.url).pathname, {});
    const role = (name: string) => createScriptedBackend(cfg.roles[name]?.script ?? []);
    const route = async (q: string) =>
      RouterChoice.parse(JSON.parse((await run(role("router").chat(ask(q, { format: { type: "object" } })))).text)).specialist;
    expect(await route("How do I fix a flat bike tyre?")).toBe("pragmatist");
    expect(await route("Why do we dream?")).toBe("philosopher");
    expect(await route("What is the meaning of life?")).toBe("philosopher");
    expect(await route("Tell me something")).toBe("pragmatist");
    for (const name of ["pragmatist", "philosopher", "voice"]) {
      const out = await run(role(name).chat(ask("Why do we dream?", { model: cfg.roles[name]?.model ?? "" })));
      expect(out.text.startsWith(`[scripted ${name}]`)).toBe(true);
      expect(out.final).toMatchObject({ backend: "scripted", model: `scripted:${cfg.roles[name]?.model}` });
    }
  });
});
