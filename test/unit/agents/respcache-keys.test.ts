/** The response cache's keys: what makes two calls the same, and the scope that keeps users apart. */
import { describe, expect, it } from "vitest";
import type { ResponseCacheConfig, RoleRequest } from "../../../schemas/index.ts";
import { cacheKeys, promptShaping, scopeOf } from "../../../agents/host/respcache.ts";
import { stableJson } from "../../../mesh/index.ts";

const PRIVATE: ResponseCacheConfig = { exact: true, ttl_s: 60, public: false };
const req = (o: Partial<RoleRequest> = {}): RoleRequest => ({ messages: [{ role: "user", content: "How do I repot basil?" }], ...o });
const keys = (r: RoleRequest, salt: unknown = {}, scope = "u1") => cacheKeys("pragmatist", salt, r, scope);

describe("response cache keys", () => {
  it("scopes by the user's digest, or 'pub' for a public role; no scope for a private role's call without a user", () => {
    expect(scopeOf(PRIVATE, "alice")).toMatch(/^u[0-9a-f]{32}$/);
    expect(scopeOf(PRIVATE, "alice")).not.toBe(scopeOf(PRIVATE, "bob"));
    expect(scopeOf(PRIVATE, undefined)).toBeUndefined();
    expect(scopeOf({ ...PRIVATE, public: true }, "alice")).toBe("pub");
    expect(keys(req()).exact).not.toBe(keys(req(), {}, "u2").exact);
  });

  it("the same request in another key order, or as `prompt`, is the same key; the id, stream and deadline do not count", () => {
    const a = keys(req({ options: { temperature: 0.2, max_tokens: 9 } }));
    const b = keys({ id: "r9", stream: true, deadline: 1, prompt: "How do I repot basil?", options: { max_tokens: 9, temperature: 0.2 } });
    expect(b).toEqual(a);
    expect(stableJson({ b: 1, a: { d: undefined, c: 2 } })).toBe('{"a":{"c":2},"b":1}');
  });

  it("history, options, tools, format, the variant and the prompt-shaping config are part of the exact key", () => {
    const base = keys(req()).exact;
    const history = req({ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }, ...req().messages!] });
    expect(keys(history).exact).not.toBe(base);
    expect(keys(req({ options: { temperature: 1 } })).exact).not.toBe(base);
    expect(keys(req({ tools: [{ name: "t", description: "", parameters: {} }] })).exact).not.toBe(base);
    expect(keys(req({ format: { type: "object" } })).exact).not.toBe(base);
    expect(keys(req(), { system_prompt: "be brief" }).exact).not.toBe(base);
    expect(keys(req({ variant: "terse" })).exact).not.toBe(base);
    expect(keys(req({ variant: "terse" })).index).not.toBe(keys(req()).index);
    // How a role runs is not what it answers.
    expect(promptShaping({ model: "m", system_prompt: "s", slots: 4, queue: 2, cache: {}, keep_alive: "1h" })).toEqual({
      model: "m",
      system_prompt: "s",
    });
  });

  it("the semantic index key leaves out only the last user message's text (its images stay)", () => {
    const a = keys(req());
    const para = keys(req({ messages: [{ role: "user", content: "How can I repot my basil?" }] }));
    expect(para.index).toBe(a.index);
    expect(para.exact).not.toBe(a.exact);
    expect(para.lastText).toBe("How can I repot my basil?");
    const withImage = keys(req({ messages: [{ role: "user", content: "What is this?", images: ["aGk="] }] }));
    expect(withImage.index).not.toBe(a.index);
    const otherHistory = keys(req({ messages: [{ role: "user", content: "hi" }, ...req().messages!] }));
    expect(otherHistory.index).not.toBe(a.index);
  });
});
