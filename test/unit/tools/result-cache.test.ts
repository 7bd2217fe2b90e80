/** The tool plane's result cache, its pure parts: reading a result's MCP caching fields, and the canonical key digest. */
import { describe, expect, it } from "vitest";
import { canonicalDigest } from "../../../tools/cache.ts";
import { readCacheHint } from "../../../tools/result-cache.ts";

const DAY = 86_400_000;
const ok = (fields: Record<string, unknown>) => ({ content: [{ type: "text", text: "x" }], ...fields });

describe("readCacheHint", () => {
  it("reads ttlMs and cacheScope; an absent scope is private (the reading that cannot leak)", () => {
    expect(readCacheHint(ok({ ttlMs: 5000, cacheScope: "public" }), DAY)).toEqual({ hint: { ttlMs: 5000, scope: "public" } });
    expect(readCacheHint(ok({ ttlMs: 5000, cacheScope: "private" }), DAY)).toEqual({ hint: { ttlMs: 5000, scope: "private" } });
    expect(readCacheHint(ok({ ttlMs: 5000 }), DAY)).toEqual({ hint: { ttlMs: 5000, scope: "private" } });
    expect(readCacheHint(ok({ ttlMs: 1500.7, cacheScope: "public" }), DAY).hint?.ttlMs).toBe(1500);
  });

  it("an unmarked result, ttlMs 0 (immediately stale), an error or an interim result is not cacheable, without a warning", () => {
    for (const r of [
      ok({}),
      ok({ cacheScope: "public" }),
      ok({ ttlMs: 0, cacheScope: "public" }),
      ok({ ttlMs: 5000, cacheScope: "public", isError: true }),
      ok({ ttlMs: 5000, cacheScope: "public", resultType: "input_required" }),
    ])
      expect(readCacheHint(r, DAY)).toEqual({});
  });

  it.each([
    [{ ttlMs: -1, cacheScope: "public" }, /ttlMs -1 is not a non-negative number/],
    [{ ttlMs: "5000", cacheScope: "public" }, /ttlMs "5000" is not a non-negative number/],
    [{ ttlMs: Number.NaN }, /ttlMs NaN is not a non-negative number/],
    [{ ttlMs: 10 * DAY, cacheScope: "public" }, /ttlMs 864000000 is over the longest the tool host keeps a result \(86400000 ms\)/],
    [{ ttlMs: 5000, cacheScope: "shared" }, /cacheScope "shared" is neither 'public' nor 'private'/],
  ])("a bad marking %j is ignored with a warning", (fields, warning) => {
    const r = readCacheHint(ok(fields), DAY);
    expect(r.hint).toBeUndefined();
    expect(r.warning).toMatch(warning);
  });
});

describe("canonicalDigest", () => {
  it("is the same whatever the key order, drops undefined members, and differs with any value", () => {
    const a = canonicalDigest({ tool: "t", args: { query: "Ada", limit: 5, nested: { b: 1, a: [2, { y: 1, x: 0 }] } } });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(
      canonicalDigest({ args: { nested: { a: [2, { x: 0, y: 1 }], b: 1 }, limit: 5, query: "Ada", gone: undefined }, tool: "t" }),
    ).toBe(a);
    expect(canonicalDigest({ tool: "t", args: { query: "Ada ", limit: 5, nested: { b: 1, a: [2, { y: 1, x: 0 }] } } })).not.toBe(a);
  });
});
