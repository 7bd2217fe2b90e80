/**
 * The response cache on a real nats-server (its JetStream KV bucket), with the agent host on the
 * Ollama double: exact and semantic hits, per-user isolation, public roles, bypass, and what is
 * never cached. Every answer of the double is numbered, so a hit is the earlier answer's text and
 * no new chat reached the model.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoleRequest } from "../../../schemas/index.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import { responseCacheBucket } from "../../../mesh/auth/permissions.ts";
import type { OllamaDouble } from "../../doubles/ollama.ts";
import { drain, MODEL, within } from "./helpers.ts";
import { startAgentFixture, type AgentFixture } from "./fixture.ts";

let fx: AgentFixture;
let client: RoleClient;
let ollama: OllamaDouble;
let n = 0;

const EMBED = "all-minilm";

beforeAll(async () => {
  fx = await startAgentFixture({
    jetstream: true,
    ollama: { models: [MODEL, EMBED], reply: () => `answer number ${++n}` },
    config: {
      roles: {
        // Private: exact and semantic. The double embeds synonyms (dog/puppy, happy/glad) as one concept.
        pragmatist: { cache: { semantic: { threshold: 0.95 }, ttl_s: 600 } },
        philosopher: { cache: { public: true, semantic: { threshold: 0.95 } } },
        voice: {},
      },
      hosts: { local: { roles: ["pragmatist", "philosopher", "voice"] } },
    },
  });
  ({ client, ollama } = fx);
});

afterAll(() => fx?.[Symbol.asyncDispose]());

const chats = () => ollama.requests.filter((r) => r.path === "/api/chat").length;

async function ask(role: string, req: RoleRequest) {
  const before = chats();
  const r = await within(drain(client.stream(role, req)), 20_000, `${role} answer`);
  return { text: r.deltas.join(""), final: r.final!, chunks: r.chunks, modelCalls: chats() - before };
}

const msg = (text: string, user?: string, history: RoleRequest["messages"] = []): RoleRequest => ({
  messages: [...history, { role: "user", content: text }],
  ...(user ? { user } : {}),
});

describe("response cache: exact", () => {
  it("a repeated call of the same user is answered from the cache, streamed, with no model call", async () => {
    const first = await ask("pragmatist", msg("How do I repot basil?", "alice"));
    expect(first).toMatchObject({ modelCalls: 1, final: { cache: "miss", backend: "ollama" } });
    const again = await ask("pragmatist", msg("How do I repot basil?", "alice"));
    expect(again.modelCalls).toBe(0);
    expect(again.text).toBe(first.text);
    expect(again.final).toMatchObject({ cache: "exact", backend: "ollama", model: MODEL, host: "local", role: "pragmatist" });
    expect(again.final.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0 });
    // Streamed as any answer: the ack, the text, then the final.
    expect(again.chunks.map((c) => c.type)).toEqual(["status", "response", "final"]);
  });

  it("user B never gets user A's cached answer", async () => {
    const a = await ask("pragmatist", msg("Which soil suits tomatoes?", "alice"));
    const b = await ask("pragmatist", msg("Which soil suits tomatoes?", "bob"));
    expect(b.modelCalls).toBe(1);
    expect(b.text).not.toBe(a.text);
    expect(b.final.cache).toBe("miss");
    // Each keeps their own.
    expect((await ask("pragmatist", msg("Which soil suits tomatoes?", "alice"))).text).toBe(a.text);
    expect((await ask("pragmatist", msg("Which soil suits tomatoes?", "bob"))).text).toBe(b.text);
  });

  it("another history, options or system prompt is another key", async () => {
    const base = await ask("pragmatist", msg("And then?", "alice", [{ role: "user", content: "Tell me about basil" }]));
    const other = await ask("pragmatist", msg("And then?", "alice", [{ role: "user", content: "Tell me about mint" }]));
    expect(other.modelCalls).toBe(1);
    expect(other.text).not.toBe(base.text);
    const hotter = await ask("pragmatist", {
      ...msg("And then?", "alice", [{ role: "user", content: "Tell me about basil" }]),
      options: { temperature: 1.5 },
    });
    expect(hotter.modelCalls).toBe(1);
  });

  it("a private role's call without a user is not cached", async () => {
    const one = await ask("pragmatist", msg("Nobody asks this"));
    const two = await ask("pragmatist", msg("Nobody asks this"));
    expect([one.modelCalls, two.modelCalls]).toEqual([1, 1]);
    expect(two.final.cache).toBe("uncached");
  });

  it("cache: bypass answers afresh, and that answer replaces the cached one", async () => {
    const first = await ask("pragmatist", msg("How often do I water ferns?", "alice"));
    const fresh = await ask("pragmatist", { ...msg("How often do I water ferns?", "alice"), cache: "bypass" });
    expect(fresh.modelCalls).toBe(1);
    expect(fresh.final.cache).toBe("bypass");
    expect(fresh.text).not.toBe(first.text);
    expect((await ask("pragmatist", msg("How often do I water ferns?", "alice"))).text).toBe(fresh.text);
  });
});

describe("response cache: semantic", () => {
  it("a paraphrase of the same user hits; another user's paraphrase misses", async () => {
    const a = await ask("pragmatist", msg("is my dog happy", "carol"));
    const para = await ask("pragmatist", msg("is my puppy glad", "carol"));
    expect(para.modelCalls).toBe(0);
    expect(para.text).toBe(a.text);
    expect(para.final.cache).toBe("semantic");
    expect(para.final.cache_similarity).toBeGreaterThanOrEqual(0.95);
    const other = await ask("pragmatist", msg("is my puppy glad", "dave"));
    expect(other.modelCalls).toBe(1);
    expect(other.text).not.toBe(a.text);
  });

  it("a paraphrase after another history is not a hit", async () => {
    await ask("pragmatist", msg("is my cat happy", "carol", [{ role: "user", content: "hello" }]));
    const later = await ask("pragmatist", msg("is my kitten glad", "carol", [{ role: "user", content: "goodbye" }]));
    expect(later.modelCalls).toBe(1);
    expect(later.final.cache).toBe("miss");
  });
});

describe("response cache: public roles", () => {
  it("a public role shares its answers with every user, and with calls without one", async () => {
    const a = await ask("philosopher", msg("What gives a life meaning?", "alice"));
    const b = await ask("philosopher", msg("What gives a life meaning?", "bob"));
    const anon = await ask("philosopher", msg("What gives a life meaning?"));
    expect([a.modelCalls, b.modelCalls, anon.modelCalls]).toEqual([1, 0, 0]);
    expect(b.text).toBe(a.text);
    expect(anon.text).toBe(a.text);
    const para = await ask("philosopher", msg("Is my car happy?", "erin"));
    const para2 = await ask("philosopher", msg("is my automobile glad", "frank"));
    expect(para2.modelCalls).toBe(0);
    expect(para2.text).toBe(para.text);
  });

  it("a role without a cache answers every call from the model, and says nothing of a cache", async () => {
    const one = await ask("voice", msg("hello there", "alice"));
    const two = await ask("voice", msg("hello there", "alice"));
    expect([one.modelCalls, two.modelCalls]).toEqual([1, 1]);
    expect(two.final.cache).toBeUndefined();
  });
});

describe("response cache: where it lives and what it counts", () => {
  it("keeps answers in the mesh's KV bucket, under keys that name no user", async () => {
    const { Kvm } = await import("@nats-io/kv");
    const kv = await new Kvm(fx.mesh.nc).open(responseCacheBucket("test"));
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    expect(keys.some((k) => k.startsWith("x.pub."))).toBe(true);
    expect(keys.some((k) => k.startsWith("s.u"))).toBe(true);
    expect(keys.join(" ")).not.toMatch(/alice|bob|carol/);
  });

  it("counts hits and misses per role and kind", async () => {
    const metric = await fx.host.metrics.cacheLookups.get();
    const count = (labels: Partial<Record<"role" | "kind" | "result", string>>) =>
      metric.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k as "role"] === x)).reduce((a, v) => a + v.value, 0);
    expect(count({ role: "pragmatist", kind: "exact", result: "hit" })).toBeGreaterThan(0);
    expect(count({ role: "pragmatist", kind: "exact", result: "miss" })).toBeGreaterThan(0);
    expect(count({ role: "pragmatist", kind: "semantic", result: "hit" })).toBeGreaterThan(0);
    expect(count({ role: "pragmatist", kind: "exact", result: "bypass" })).toBeGreaterThan(0);
    expect(count({ role: "voice" })).toBe(0);
  });
});
