/**
 * knowledge: every failure of a service is a tool error with a reason (isError), and the server
 * keeps serving; bad inputs are refused before any service is asked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { knowledgeFixture, type Caller, type Fixture } from "./fixture.ts";

let f: Fixture;
let k: Caller;
beforeAll(async () => {
  f = await knowledgeFixture();
  // No cache: each call must reach the double to meet its scripted failure.
  k = await f.host("errors", { cache_ttl_s: 0 });
});
afterAll(async () => f?.close());

const fails = async (name: string, args: unknown, reason: RegExp) => {
  const r = await k.call(name, args);
  expect(r.isError, r.text).toBe(true);
  expect(r.rpcError).toBeUndefined();
  expect(r.text).toMatch(reason);
};

describe("knowledge service failures", () => {
  it("429 with Retry-After: rate limited, says when to retry, and holds further requests off that long", async () => {
    f.wiki.failNext({ status: 429, body: "Too many requests", retryAfter: "1" });
    await fails(
      "wikipedia_search",
      { query: "Babbage" },
      /wikipedia_search failed \(rate_limited\): Wikipedia is rate limiting requests \(429\); retry after 1 s/,
    );
    const before = f.wiki.requests.at(-1)!.at;
    const ok = await k.call("wikipedia_search", { query: "Babbage" });
    expect(ok.isError).toBe(false);
    expect(f.wiki.requests.at(-1)!.at - before).toBeGreaterThanOrEqual(1000 - 50);
  });

  it("503 and 500: unavailable, with the reason", async () => {
    f.wolfram.failNext({ status: 503, body: "Service Temporarily Unavailable", retryAfter: "1" });
    await fails(
      "wolfram_query",
      { input: "integrate x^2" },
      /\(unavailable\): Wolfram\|Alpha is unavailable \(503: Service Temporarily Unavailable\); retry after 1 s/,
    );
    f.wiki.failNext({ status: 500, body: "Internal error" });
    await fails("wikipedia_page", { title: "Ada Lovelace" }, /\(unavailable\): Wikipedia failed \(500: Internal error\)/);
  });

  it("arXiv's 'Rate exceeded.' and its Error entry", async () => {
    f.arxiv.rateExceededNext();
    await fails(
      "arxiv_search",
      { query: "attention" },
      /\(rate_limited\): arXiv is rate limiting requests \("Rate exceeded\."\); retry after 1 s/,
    );
    await fails("arxiv_search", { query: "ti:attention OR au:vaswani" }, /\(rejected\): arXiv refused the query: malformed query term/);
  });

  it("MediaWiki's maxlag error: rate limited with its Retry-After, and held off that long", async () => {
    f.wiki.lagNext(7, 1);
    await fails(
      "wikipedia_search",
      { query: "Babbage" },
      /\(rate_limited\): Wikipedia asked to slow down \(maxlag: Waiting for 10\.0\.0\.1: 7 seconds lagged\.\); retry after 1 s/,
    );
    const before = f.wiki.requests.at(-1)!.at;
    expect((await k.call("wikipedia_search", { query: "Babbage" })).isError).toBe(false);
    expect(f.wiki.requests.at(-1)!.at - before).toBeGreaterThanOrEqual(1000 - 50);
  });

  it("a service that does not answer in timeout_ms: timeout", async () => {
    f.wiki.stallNext(3_000);
    await fails("wikipedia_search", { query: "Babbage" }, /\(timeout\): Wikipedia did not answer within 1000 ms/);
  });

  it("malformed JSON and XML: malformed", async () => {
    f.wiki.failNext({ status: 200, body: '{"batchcomplete": tru', contentType: "application/json" });
    await fails("wikipedia_search", { query: "Babbage" }, /\(malformed\): Wikipedia's answer was malformed \(the body is not JSON\)/);
    f.wiki.failNext({ status: 200, body: '{"batchcomplete": true, "query": {"search": "nope"}}', contentType: "application/json" });
    await fails("wikipedia_search", { query: "Babbage" }, /\(malformed\).*query\.search is missing/);
    f.arxiv.failNext({
      status: 200,
      body: '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><title>Cut',
      contentType: "application/atom+xml",
    });
    await fails("arxiv_search", { query: "attention" }, /\(malformed\): arXiv's answer was malformed \(not a complete Atom feed\)/);
    f.arxiv.failNext({ status: 200, body: "<html><body>maintenance</body></html>", contentType: "text/html" });
    await fails("arxiv_search", { query: "attention" }, /\(malformed\)/);
  });

  it("no results: says so and what to try", async () => {
    await fails(
      "wikipedia_search",
      { query: "qqzzxx" },
      /\(no_results\): Wikipedia has no articles matching 'qqzzxx'; try fewer or different words/,
    );
    await fails(
      "wikipedia_page",
      { title: "No Such Page" },
      /\(no_results\): Wikipedia has no page titled 'No Such Page'; use wikipedia_search/,
    );
    await fails("arxiv_search", { query: "qqzzxx" }, /\(no_results\): arXiv has no papers matching 'qqzzxx'/);
  });

  it("Wolfram|Alpha: 501 (not understood), 403 (bad app id), and a missing app id names the variable to set", async () => {
    await fails(
      "wolfram_query",
      { input: "what is love" },
      /\(no_results\): Wolfram\|Alpha could not interpret 'what is love' \(Wolfram\|Alpha did not understand your input.*\); rephrase it/,
    );
    const wrong = await f.host("wrong-appid", { cache_ttl_s: 0 }, { WOLFRAM_APP_ID: "WRONG-ID" });
    const r403 = await wrong.call("wolfram_query", { input: "integrate x^2" });
    expect(r403).toMatchObject({ isError: true });
    expect(r403.text).toMatch(/\(config\): Wolfram\|Alpha refused the app id \(403: Error 1: Invalid appid\)/);
    expect(r403.text).not.toContain("WRONG-ID");
    const before = f.wolfram.requests.length;
    const none = await f.host("no-appid", { cache_ttl_s: 0, wolfram_app_id_env: "MY_WA_ID" }, {});
    const missing = await none.call("wolfram_query", { input: "integrate x^2" });
    expect(missing.isError).toBe(true);
    expect(missing.text).toMatch(/must set MY_WA_ID .* in the environment of 'lyra tools'/);
    expect(f.wolfram.requests.length).toBe(before);
    expect((await none.call("wikipedia_search", { query: "Babbage" })).isError).toBe(false); // the other tools still work
  });

  it("keeps serving after all of that", async () => {
    expect(k.host.servers()[0]).toMatchObject({ state: "up" });
    expect((await k.call("wolfram_query", { input: "population of France" })).text).toContain("68.2 million");
    expect((await k.call("arxiv_search", { query: "scaling" })).text).toContain("Scaling Laws for Neural Language Models");
  });
});

describe("knowledge bad inputs", () => {
  const big = "x".repeat(10_000);
  const bad: [string, unknown][] = [
    ["wikipedia_search", {}],
    ["wikipedia_search", { query: 42 }],
    ["wikipedia_search", { query: "" }],
    ["wikipedia_search", { query: "   \n\t " }],
    ["wikipedia_search", { query: big }],
    ["wikipedia_search", { query: "ok", limit: -1 }],
    ["wikipedia_search", { query: "ok", limit: 0 }],
    ["wikipedia_search", { query: "ok", limit: 1.5 }],
    ["wikipedia_search", { query: "ok", limit: "5" }],
    ["wikipedia_search", { query: "ok", limit: 1_000 }],
    ["wikipedia_search", { query: "ok", srlimit: 5 }],
    ["wikipedia_search", { query: ["a", "b"] }],
    ["wikipedia_search", { query: null }],
    ["wikipedia_search", { query: "a\u0000b" }],
    ["wikipedia_page", { title: "Ada|Babbage" }],
    ["wikipedia_page", { title: "" }],
    ["wikipedia_page", { title: "Ada Lovelace", max_chars: -5 }],
    ["wikipedia_page", { title: "Ada Lovelace", intro_only: "yes" }],
    ["wikipedia_page", { title: big }],
    ["arxiv_search", { query: "attention", max_results: 500 }],
    ["arxiv_search", { query: "attention", sort: "oldest" }],
    ["arxiv_search", { query: { all: "attention" } }],
    ["arxiv_search", { query: "attention", start: -3 }],
    ["wolfram_query", { input: "" }],
    ["wolfram_query", { input: "x".repeat(501) }],
    ["wolfram_query", { input: "2+2", max_chars: 5 }],
    ["wolfram_query", { query: "2+2" }],
    ["wolfram_query", "2+2"],
    ["wolfram_query", [1, 2]],
    ["no_such_tool", { query: "x" }],
  ];

  it(`refuses ${bad.length} bad inputs with an error, asks no service, keeps serving`, async () => {
    const asked = () => f.wiki.requests.length + f.arxiv.requests.length + f.wolfram.requests.length;
    const before = asked();
    for (const [name, args] of bad) {
      const r = await k.call(name, args);
      expect(r.isError, `${name} ${JSON.stringify(args).slice(0, 80)} → ${r.text.slice(0, 200)}`).toBe(true);
      expect(r.text.length).toBeGreaterThan(0);
    }
    expect(asked()).toBe(before);
    expect(k.host.servers()[0]).toMatchObject({ state: "up" });
    expect((await k.call("wikipedia_search", { query: "Babbage" })).isError).toBe(false);
  });
});
