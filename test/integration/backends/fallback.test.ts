import { describe, expect, it } from "vitest";
import {
  createBreaker,
  createOllamaBackend,
  createOpenAIBackend,
  createScriptedBackend,
  withFallback,
  type FallbackEvent,
} from "../../../agents/backends/index.ts";
import { AbortedError, BackendUnavailableError, ScriptError } from "../../../agents/errors.ts";
import { startOllamaDouble, type OllamaDoubleOptions } from "../../doubles/ollama.ts";
import { startOpenAIDouble } from "../../doubles/openai.ts";
import { collect, rejection } from "./collect.ts";

const hello = { model: "qwen3:8b", messages: [{ role: "user" as const, content: "hello there" }] };

/** An Ollama double as primary, an OpenAI double (LiteLLM) as fallback, a clock for the breaker. */
async function fixture(ollamaOpts: OllamaDoubleOptions = {}) {
  const ollama = await startOllamaDouble(ollamaOpts);
  const llm = await startOpenAIDouble();
  let t = 0;
  const breaker = createBreaker({ now: () => t });
  const events: FallbackEvent[] = [];
  const backend = withFallback(
    createOllamaBackend({ host: ollama.url }),
    createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey }),
    {
      fallbackModel: "lyra-fallback",
      breaker,
      onFallback: (e) => events.push(e),
    },
  );
  const chats = () => ollama.requests.filter((r) => r.path === "/api/chat").length;
  return {
    ollama,
    llm,
    backend,
    breaker,
    events,
    chats,
    advance: (ms: number) => (t += ms),
    [Symbol.asyncDispose]: async () => {
      await ollama.close();
      await llm.close();
    },
  };
}

describe("withFallback", () => {
  it("a healthy primary answers; nothing is marked", async () => {
    await using f = await fixture();
    const out = await collect(f.backend.chat(hello));
    expect(out.text).toBe("You said: hello there");
    expect(out.final).toMatchObject({ backend: "ollama", model: "qwen3:8b" });
    expect(out.final?.fallback).toBeUndefined();
    expect(f.events).toEqual([]);
  });

  const triggers: [string, string, (f: Awaited<ReturnType<typeof fixture>>) => Promise<void> | void, OllamaDoubleOptions?, number?][] = [
    ["Ollama down", "backend_unavailable", (f) => f.ollama.down()],
    [
      "Ollama busy (503)",
      "backend_busy",
      (f) => f.ollama.failNext(503, "server busy, please try again.  maximum pending requests exceeded"),
    ],
    ["Ollama error (500)", "backend_error", (f) => f.ollama.failNext(500, "llama runner process has terminated")],
    ["model not pulled", "model_not_found", () => {}, { models: ["other:1b"] }],
    ["no first token in time", "first_token_timeout", () => {}, { loadDelayMs: 5_000 }, 100],
  ];
  it.each(triggers)("%s → the fallback answers, marked with reason %s", async (_name, reason, breakIt, opts, firstTokenTimeoutMs) => {
    await using f = await fixture(opts);
    await breakIt(f);
    const out = await collect(f.backend.chat(hello, firstTokenTimeoutMs ? { firstTokenTimeoutMs } : {}));
    expect(out.text).toBe("Cloud says: hello there");
    expect(out.final).toMatchObject({ backend: "openai", model: "lyra-fallback", fallback: { reason, from: "ollama" } });
    expect(f.events).toHaveLength(1);
    expect(f.events[0]).toMatchObject({ reason, model: "qwen3:8b", fallbackModel: "lyra-fallback", from: "ollama" });
    expect(f.events[0]?.error?.message).toBeTruthy();
    const sent = f.llm.requests.at(-1)?.body as { model: string };
    expect(sent.model).toBe("lyra-fallback");
  });

  it("a failure after the first chunk is thrown, not hidden behind the fallback", async () => {
    await using f = await fixture({ tokenDelayMs: 100, reply: () => "one two three four five" });
    const err = await rejection(
      (async () => {
        for await (const c of f.backend.chat(hello)) if (c.type === "delta") await f.ollama.down();
      })(),
    );
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(f.events).toEqual([]);
    expect(f.llm.requests).toHaveLength(0);
  });

  it("opens after 3 failures (primary skipped), half-opens after 30 s, closes on a good trial", async () => {
    await using f = await fixture();
    for (let i = 0; i < 3; i++) {
      f.ollama.failNext(500);
      await collect(f.backend.chat(hello));
    }
    expect(f.breaker.state()).toBe("open");
    expect(await f.backend.health()).toMatchObject({ ok: true, breaker: "open", degraded: true });
    const skipped = await collect(f.backend.chat(hello));
    expect(skipped.final?.fallback).toEqual({ reason: "breaker_open", from: "ollama" });
    expect(f.chats()).toBe(3);

    f.advance(30_000);
    expect(f.breaker.state()).toBe("half_open");
    const trial = await collect(f.backend.chat(hello));
    expect(trial.final).toMatchObject({ backend: "ollama" });
    expect(f.chats()).toBe(4);
    expect(f.breaker.state()).toBe("closed");
    expect(await f.backend.health()).toMatchObject({ breaker: "closed", degraded: false });
  });

  it("a failed half-open trial opens it again", async () => {
    await using f = await fixture();
    for (let i = 0; i < 3; i++) {
      f.ollama.failNext(500);
      await collect(f.backend.chat(hello));
    }
    f.advance(30_000);
    f.ollama.failNext(503);
    const out = await collect(f.backend.chat(hello));
    expect(out.final?.fallback?.reason).toBe("backend_busy");
    expect(f.breaker.state()).toBe("open");
  });

  it("a caller abort and a script bug are not fallback reasons", async () => {
    await using f = await fixture({ loadDelayMs: 5_000 });
    const ac = new AbortController();
    const call = rejection(collect(f.backend.chat(hello, { signal: ac.signal })));
    await expect.poll(() => f.chats()).toBe(1);
    ac.abort();
    expect(await call).toBeInstanceOf(AbortedError);
    expect(f.events).toEqual([]);
    expect(f.breaker.state()).toBe("closed");

    // The primary's only rule exists to miss; the fallback must never be asked.
    const primary = createScriptedBackend([{ match: "^never$", reply: "x", optional: true }]);
    const fallback = createScriptedBackend([{ reply: "fb", optional: true }]);
    const scripted = withFallback(primary, fallback, { fallbackModel: "fb" });
    expect(await rejection(collect(scripted.chat(hello)))).toBeInstanceOf(ScriptError);
    expect(fallback.requests).toEqual([]);
  });

  it("warm goes to the primary", async () => {
    await using f = await fixture();
    await f.backend.warm("qwen3:8b");
    expect(f.ollama.requests.at(-1)?.path).toBe("/api/generate");
    expect(f.backend.name).toBe("ollama+openai");
  });
});
