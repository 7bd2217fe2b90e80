import { describe, expect, it } from "vitest";
import { parseKeys, rateLimiter } from "../../../agents/frontdoors/openai/access.ts";
import { conversationOf, newUserMessage } from "../../../agents/frontdoors/openai/conversation.ts";
import { OpenAIError } from "../../../agents/frontdoors/openai/errors.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";

const u = (content: string) => ({ role: "user" as const, content });
const a = (content: string) => ({ role: "assistant" as const, content });

describe("conversation and message ids", () => {
  it("takes the header, else the user field, else the opening messages", () => {
    expect(conversationOf("conv-1", "someone", [u("hi")], "key-1")).toBe("conv-1");
    expect(conversationOf(undefined, "user_42", [u("hi")], "key-1")).toBe("user_42");
    expect(conversationOf(undefined, "ann@example.org", [u("hi")], "key-1")).toMatch(/^u-[0-9a-f]{32}$/);
    const opened = conversationOf(undefined, undefined, [u("hi")], "key-1");
    expect(conversationOf(undefined, undefined, [u("hi"), a("hello"), u("more")], "key-1")).toBe(opened);
    expect(conversationOf(undefined, undefined, [u("hi")], "key-2")).not.toBe(opened);
    expect(() => conversationOf("a b", undefined, [u("hi")], "key-1")).toThrow(OpenAIError);
  });

  it("gives the same id to a resent message and different ids to a repeated one", () => {
    const first = newUserMessage("c1", [u("yes")], "key-1");
    expect(newUserMessage("c1", [u("yes")], "key-1")).toEqual(first);
    expect(newUserMessage("c1", [u("yes"), a("ok"), u("yes")], "key-1").id).not.toBe(first.id);
    expect(newUserMessage("c2", [u("yes")], "key-1").id).not.toBe(first.id);
    // Another key's message is another message: it never gets this one's stored reply.
    expect(newUserMessage("c1", [u("yes")], "key-2").id).not.toBe(first.id);
    expect(first.id).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
  });
});

describe("keys and the rate limit", () => {
  it("checks Bearer keys and labels them by position", () => {
    const keys = parseKeys(" k1 , k2 ,", "LYRA_SERVE_KEYS");
    expect(keys.check("Bearer k2")).toBe("key-2");
    expect(() => keys.check("Bearer k3")).toThrow(/Incorrect API key/);
    expect(() => keys.check("k1")).toThrow(/didn't provide an API key/);
    expect(() => keys.check(undefined)).toThrow(/didn't provide an API key/);
    expect(() => parseKeys(" , ", "LYRA_SERVE_KEYS")).toThrow(/set LYRA_SERVE_KEYS/);
  });

  it("lets a burst through, then one request per 60/rpm seconds, per key", () => {
    let t = 0;
    const limit = rateLimiter(60, 2, () => t);
    limit.take("a");
    limit.take("a");
    expect(() => limit.take("a")).toThrow(expect.objectContaining({ status: 429, retryAfterS: 1 }) as Error);
    limit.take("b");
    t += 1000;
    limit.take("a");
    expect(() => limit.take("a")).toThrow(OpenAIError);
    const off = rateLimiter(0, 1, () => t);
    for (let i = 0; i < 100; i++) off.take("a");
  });
});

describe("the serve config section", () => {
  const base = "mesh: { name: t, owner: o }\nroles: { voice: { model: m, kind: voice } }\nhosts: { h: { roles: [voice] } }\n";
  it("fills in defaults and parses durations and sizes", () => {
    const cfg = parseMeshConfig(`${base}serve: { port: 9000, timeout: 30s, max_body: 2MiB }\n`, { env: {} });
    expect(cfg.serve).toEqual({ listen: "127.0.0.1", port: 9000, keys_env: "LYRA_SERVE_KEYS", timeout: 30_000, max_body: 2 * 1024 ** 2, rate_limit: { rpm: 60, burst: 10 }, grace: 10_000 });
    expect(parseMeshConfig(base, { env: {} }).serve).toBeUndefined();
  });
  it("refuses keys in the file and bad values, saying what to set", () => {
    expect(() => parseMeshConfig(`${base}serve: { keys: [abc] }\n`, { env: {} })).toThrow(/serve has unknown key 'keys'/);
    expect(() => parseMeshConfig(`${base}serve: { keys_env: "sk-123" }\n`, { env: {} })).toThrow(/serve.keys_env .*the NAME of the environment variable/);
    expect(() => parseMeshConfig(`${base}serve: { port: 70000 }\n`, { env: {} })).toThrow(/serve.port .*a port number/);
  });
});
