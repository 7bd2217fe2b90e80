import { describe, expect, it } from "vitest";
import { keyIdOf, parseKeys, rateLimiter } from "../../../agents/frontdoors/openai/access.ts";
import { conversationOf, newUserMessage, userOf } from "../../../agents/frontdoors/openai/conversation.ts";
import { OpenAIError } from "../../../agents/frontdoors/openai/errors.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";

const u = (content: string) => ({ role: "user" as const, content });
const a = (content: string) => ({ role: "assistant" as const, content });

describe("conversation and message ids", () => {
  it("takes the header, else the user field, else the opening messages, always within the tenant", () => {
    const conv = (h: string | undefined, user: string | undefined, m: Parameters<typeof conversationOf>[2], t = "k0123456789ab") =>
      conversationOf(h, user, m, t);
    expect(conv("conv-1", "someone", [u("hi")])).toEqual({ name: "conv-1", id: "k0123456789ab_conv-1" });
    expect(conv(undefined, "user_42", [u("hi")]).name).toBe("user_42");
    expect(conv(undefined, "ann@example.org", [u("hi")]).name).toMatch(/^u-[0-9a-f]{32}$/);
    const opened = conv(undefined, undefined, [u("hi")]);
    expect(conv(undefined, undefined, [u("hi"), a("hello"), u("more")])).toEqual(opened);
    expect(conv(undefined, undefined, [u("hi")], "acme").id).toBe(`acme_${opened.name}`);
    expect(() => conv("a b", undefined, [u("hi")])).toThrow(OpenAIError);
    // The longest name and tenant still make an id the inbox takes; a longer name is refused.
    expect(conv("x".repeat(96), undefined, [u("hi")], "t".repeat(31)).id).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    expect(() => conv("x".repeat(97), undefined, [u("hi")])).toThrow(/1-96 letters/);
    expect(conv(undefined, "y".repeat(97), [u("hi")]).name).toMatch(/^u-/);
    expect(userOf("ann", "acme")).toBe("acme_ann");
    expect(userOf(undefined, "acme")).toBe("acme_openai");
  });

  it("gives the same id to a resent message and different ids to a repeated one", () => {
    const first = newUserMessage("c1", [u("yes")]);
    expect(newUserMessage("c1", [u("yes")])).toEqual(first);
    expect(newUserMessage("c1", [u("yes"), a("ok"), u("yes")]).id).not.toBe(first.id);
    expect(newUserMessage("c2", [u("yes")]).id).not.toBe(first.id);
    expect(first.id).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
  });
});

describe("keys and the rate limit", () => {
  it("checks Bearer keys and names each by a stable id, its own tenant unless serve.tenants maps it", () => {
    const keys = parseKeys(" k1 , k2 ,", "LYRA_SERVE_KEYS");
    expect(keyIdOf("k2")).toMatch(/^k[0-9a-f]{12}$/);
    expect(keys.check("Bearer k2")).toEqual({ keyId: keyIdOf("k2"), tenant: keyIdOf("k2") });
    // The id does not depend on the key's place in the list.
    expect(parseKeys("k2,k1", "K").check("Bearer k2")).toEqual(keys.check("Bearer k2"));
    expect(() => keys.check("Bearer k3")).toThrow(/Incorrect API key/);
    expect(() => keys.check("k1")).toThrow(/didn't provide an API key/);
    expect(() => keys.check(undefined)).toThrow(/didn't provide an API key/);
    expect(() => parseKeys(" , ", "LYRA_SERVE_KEYS")).toThrow(/set LYRA_SERVE_KEYS/);
    const shared = parseKeys("old,new,other", "K", { acme: [keyIdOf("old"), keyIdOf("new")] });
    expect(shared.check("Bearer old").tenant).toBe("acme");
    expect(shared.check("Bearer new").tenant).toBe("acme");
    expect(shared.check("Bearer other").tenant).toBe(keyIdOf("other"));
    expect(JSON.stringify(shared.list())).not.toMatch(/"(old|new|other)"/);
  });

  it("rotates: a dropped key works, with its tenant, until its grace ends; a new key at once; a re-added key stays", () => {
    let t = 0;
    const clock = () => t;
    const own = { [keyIdOf("old")]: [keyIdOf("old"), keyIdOf("new")] };
    const keys = parseKeys("old,other", "K", {}, clock);
    const r = keys.rotate(parseKeys("new,other", "K", own, clock), 1000);
    expect(r).toEqual({
      added: [{ keyId: keyIdOf("new"), tenant: keyIdOf("old") }],
      retiring: [{ keyId: keyIdOf("old"), tenant: keyIdOf("old") }],
    });
    // The successor is the old key's tenant: the old key's conversations are its own.
    expect(keys.check("Bearer new").tenant).toBe(keys.check("Bearer old").tenant);
    expect(keys.list().map((c) => c.keyId)).toEqual([keyIdOf("new"), keyIdOf("other")]);
    t = 999;
    expect(keys.check("Bearer old").keyId).toBe(keyIdOf("old"));
    t = 1000;
    expect(() => keys.check("Bearer old")).toThrow(expect.objectContaining({ status: 401, code: "invalid_api_key" }) as Error);
    expect(keys.check("Bearer other").keyId).toBe(keyIdOf("other"));
    // A second reload within a grace keeps the first grace; a key put back is a key again.
    const again = parseKeys("a,b", "K", {}, clock);
    again.rotate(parseKeys("b", "K", {}, clock), 100);
    t += 50;
    expect(again.rotate(parseKeys("c", "K", {}, clock), 1000).retiring.map((c) => c.keyId)).toEqual([keyIdOf("b")]);
    t += 50;
    expect(() => again.check("Bearer a")).toThrow(/Incorrect API key/);
    expect(again.check("Bearer b").keyId).toBe(keyIdOf("b"));
    again.rotate(parseKeys("b,c", "K", {}, clock), 0);
    t += 1e9;
    expect(again.check("Bearer b").keyId).toBe(keyIdOf("b"));
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
    expect(cfg.serve).toEqual({
      listen: "127.0.0.1",
      port: 9000,
      keys_env: "LYRA_SERVE_KEYS",
      key_grace_s: 3600,
      timeout: 30_000,
      max_body: 2 * 1024 ** 2,
      rate_limit: { rpm: 60, burst: 10 },
      grace: 10_000,
      header_timeout: 10_000,
      body_timeout: 30_000,
      idle_timeout: 5_000,
      max_connections: 1024,
      tenants: {},
    });
    expect(parseMeshConfig(base, { env: {} }).serve).toBeUndefined();
  });
  it("refuses keys in the file and bad values, saying what to set", () => {
    expect(() => parseMeshConfig(`${base}serve: { keys: [abc] }\n`, { env: {} })).toThrow(/serve has unknown key 'keys'/);
    expect(() => parseMeshConfig(`${base}serve: { keys_env: "sk-123" }\n`, { env: {} })).toThrow(
      /serve.keys_env .*the NAME of the environment variable/,
    );
    expect(() => parseMeshConfig(`${base}serve: { port: 70000 }\n`, { env: {} })).toThrow(/serve.port .*a port number/);
    expect(() => parseMeshConfig(`${base}serve: { header_timeout: 40s }\n`, { env: {} })).toThrow(
      /serve.header_timeout .*longer than serve.body_timeout/,
    );
    expect(() => parseMeshConfig(`${base}serve: { max_connections: 0 }\n`, { env: {} })).toThrow(/serve.max_connections .*1 or more/);
    expect(() => parseMeshConfig(`${base}serve: { tenants: { acme: [sk-live-123] } }\n`, { env: {} })).toThrow(
      /serve.tenants.acme\[0\] .*not a key id.*never the key/,
    );
    expect(() => parseMeshConfig(`${base}serve: { tenants: { a_b: [k0123456789ab] } }\n`, { env: {} })).toThrow(
      /serve.tenants.a_b .*not a usable tenant name/,
    );
    expect(() => parseMeshConfig(`${base}serve: { tenants: { a: [k0123456789ab], b: [k0123456789ab] } }\n`, { env: {} })).toThrow(
      /already in tenant 'a'/,
    );
    expect(parseMeshConfig(`${base}serve: { tenants: { acme: [k0123456789ab] } }\n`, { env: {} }).serve?.tenants).toEqual({
      acme: ["k0123456789ab"],
    });
    // A key's own tenant, named by its id, may take in its successor; another key's id may not be a tenant.
    const own = "serve: { tenants: { k0123456789ab: [k0123456789ab, kba9876543210] } }\n";
    expect(parseMeshConfig(`${base}${own}`, { env: {} }).serve?.tenants).toEqual({ k0123456789ab: ["k0123456789ab", "kba9876543210"] });
    expect(() => parseMeshConfig(`${base}serve: { tenants: { k0123456789ab: [kba9876543210] } }\n`, { env: {} })).toThrow(
      /serve.tenants.k0123456789ab .*not a usable tenant name/,
    );
    expect(() => parseMeshConfig(`${base}serve: { key_grace_s: -1 }\n`, { env: {} })).toThrow(/serve.key_grace_s/);
  });
});
