/**
 * What the response cache never keeps, on its real KV bucket: an answer that called tools, the
 * fallback's answer, a failed call, a resumed answer. The handler behind the cache is a fixture
 * that answers as the role handlers do (response chunks, tool events, a final), numbered per call.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Chunk, FinalInfo, ResponseCacheConfig, RoleRequest } from "../../../schemas/index.ts";
import type { RoleHandler } from "../../../mesh/rolecall/types.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { cachedHandler } from "../../../agents/host/respcache.ts";
import { createResponseCacheStore, type ResponseCacheStore } from "../../../agents/host/respcache-store.ts";
import { createEmbedder } from "../../../tools/caller.ts";
import { roleContext } from "../../harness/role-context.ts";
import { freePort } from "../../harness/nats-server.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";

let fx: MeshFixture;
let store: ResponseCacheStore;

beforeAll(async () => {
  fx = await startMeshFixture({ server: { jetstream: true } });
  store = createResponseCacheStore(fx.agent.nc, { bucket: "LYRA_RESPONSES_test", maxAgeMs: 3_600_000, log: silentLogger });
});

afterAll(() => fx?.[Symbol.asyncDispose]());

const CONFIG: ResponseCacheConfig = { exact: true, ttl_s: 600, public: false };
const final = (extra: Partial<FinalInfo> = {}): Chunk => ({
  type: "final",
  data: { model: "m", backend: "ollama", host: "h", usage: { prompt_tokens: 3, completion_tokens: 4 }, timings: { total_ms: 5 }, ...extra },
});

/** A handler whose every call is numbered; `shape` decides what else the answer holds. */
function fixture(shape: (n: number) => Chunk[] | Error): { handler: RoleHandler; calls: () => number } {
  let n = 0;
  return {
    calls: () => n,
    handler: async function* () {
      const out = shape(++n);
      if (out instanceof Error) throw out;
      yield* out;
    },
  };
}

async function run(h: RoleHandler, req: RoleRequest): Promise<{ text: string; final: FinalInfo | undefined }> {
  let text = "";
  let fin: FinalInfo | undefined;
  for await (const c of h(req, roleContext())) {
    if (c.type === "response") text += typeof c.data === "string" ? c.data : c.data.text;
    if (c.type === "final") fin = c.data;
  }
  return { text, final: fin };
}

const cached = (handler: RoleHandler, role: string) =>
  cachedHandler(handler, { role, host: "h", config: CONFIG, salt: {}, store, log: silentLogger });
const req = (text: string): RoleRequest => ({ messages: [{ role: "user", content: text }], user: "alice" });

describe("response cache: never kept", () => {
  it("an answer that called tools", async () => {
    const f = fixture((n) => [
      { type: "tool_call", data: { id: "c1", name: "clock__now", arguments: {} } },
      { type: "tool_result", data: { id: "c1", name: "clock__now", content: "12:00" } },
      { type: "response", data: `it is noon (${n})` },
      final(),
    ]);
    const h = cached(f.handler, "tools-role");
    await run(h, req("What time is it?"));
    const again = await run(h, req("What time is it?"));
    expect(f.calls()).toBe(2);
    expect(again.final?.cache).toBe("miss");
  });

  it("the fallback's answer", async () => {
    const f = fixture((n) => [
      { type: "response", data: `from the fallback (${n})` },
      final({ backend: "openai", fallback: { reason: "down", from: "ollama" } }),
    ]);
    const h = cached(f.handler, "fallback-role");
    await run(h, req("hello"));
    await run(h, req("hello"));
    expect(f.calls()).toBe(2);
  });

  it("a failed call (the error reaches the caller; the next call runs)", async () => {
    const f = fixture((n) => (n === 1 ? new Error("backend down") : [{ type: "response", data: `answer ${n}` }, final()]));
    const h = cached(f.handler, "failing-role");
    await expect(run(h, req("hello"))).rejects.toThrow("backend down");
    expect((await run(h, req("hello"))).text).toBe("answer 2");
    expect((await run(h, req("hello"))).final?.cache).toBe("exact");
  });

  it("a resumed answer, which is not answered from the cache either", async () => {
    const f = fixture((n) => [{ type: "response", data: `answer ${n}` }, final()]);
    const h = cached(f.handler, "resumed-role");
    await run(h, req("tell me"));
    const resumed = await run(h, { ...req("tell me"), resume: { text: "ans" } });
    expect(resumed.final?.cache).toBe("uncached");
    expect(f.calls()).toBe(2);
  });

  it("the semantic cache's embedding model does not answer: the model answers, the exact cache still hits", async () => {
    const f = fixture((n) => [{ type: "response", data: `answer ${n}` }, final()]);
    const embedder = createEmbedder({ host: `http://127.0.0.1:${await freePort()}`, model: "all-minilm", timeoutMs: 2000 });
    const config = { ...CONFIG, semantic: { embed_model: "all-minilm", threshold: 0.9, embed_timeout_ms: 2000 } };
    const h = cachedHandler(f.handler, { role: "no-embeddings", host: "h", config, salt: {}, store, embedder, log: silentLogger });
    expect(await run(h, req("hello"))).toMatchObject({ text: "answer 1", final: { cache: "miss" } });
    expect(await run(h, req("hello"))).toMatchObject({ text: "answer 1", final: { cache: "exact" } });
    expect((await run(h, req("hello again"))).text).toBe("answer 2");
  });
});
