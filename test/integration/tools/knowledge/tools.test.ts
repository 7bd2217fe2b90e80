/** knowledge: each tool returns the service's content shaped for a model; its results cached by the tool host; arXiv's pacing. */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_ID, knowledgeFixture, type Caller, type Fixture } from "./fixture.ts";

let f: Fixture;
let k: Caller;
beforeAll(async () => {
  f = await knowledgeFixture();
  k = await f.host("main");
});
afterAll(async () => f?.close());

describe("knowledge tools", () => {
  it("lists its four tools with input schemas", async () => {
    expect(k.host.servers()[0]).toMatchObject({
      server: "knowledge",
      state: "up",
      tools: ["wikipedia_search", "wikipedia_page", "arxiv_search", "wolfram_query"],
    });
  });

  it("wikipedia_search lists titles, links and plain-text snippets", async () => {
    const r = await k.call("wikipedia_search", { query: "Babbage engine", limit: 5 });
    expect(r.isError).toBe(false);
    expect(r.text).toContain("1. Ada Lovelace — ");
    expect(r.text).toContain(`${f.wiki.url}/wiki/Analytical_Engine`);
    expect(r.text).toContain("work on Charles Babbage's Analytical Engine"); // tags stripped, entities decoded
    expect(r.text).not.toContain("searchmatch");
    const req = f.wiki.requests.at(-1)!;
    expect(Object.fromEntries(req.query)).toMatchObject({
      action: "query",
      list: "search",
      srsearch: "Babbage engine",
      srlimit: "5",
      format: "json",
      formatversion: "2",
      maxlag: "5",
    });
    expect(req.headers["user-agent"]).toMatch(/^lyra-mesh-knowledge\/0\.1 \(.+\) node\//);
  });

  it("wikipedia_page gives the lead section or the whole article, following redirects", async () => {
    const intro = await k.call("wikipedia_page", { title: "Lady Lovelace" });
    expect(intro.isError).toBe(false);
    expect(intro.text).toMatch(
      /^# Ada Lovelace\nhttp:\/\/127\.0\.0\.1:\d+\/wiki\/Ada_Lovelace\n\(redirected from 'Lady Lovelace'\)\n\nAugusta Ada King/,
    );
    expect(intro.text).not.toContain("Early life");
    const whole = await k.call("wikipedia_page", { title: "Ada Lovelace", intro_only: false, max_chars: 200 });
    expect(whole.text).toContain("Early life");
    expect(whole.text).toContain("[truncated at 200 characters]");
  });

  it("arxiv_search lists title, authors, date, category, abstract and links", async () => {
    const r = await k.call("arxiv_search", { query: "attention", sort: "newest" });
    expect(r.isError).toBe(false);
    expect(r.text).toContain('arXiv papers for "attention":');
    expect(r.text).toContain("1. BERT: Pre-training of Deep Bidirectional Transformers (2018-10-11; Jacob Devlin; cs.CL)");
    expect(r.text).toContain("2. Attention Is All You Need (2017-06-12; Ashish Vaswani, Noam Shazeer, Niki Parmar et al.; cs.CL)");
    expect(r.text).toContain("http://arxiv.org/abs/1706.03762v7 — PDF http://arxiv.org/pdf/1706.03762v7");
    expect(r.text).toContain("BERT & its attention layers");
    const q = f.arxiv.requests.at(-1)!.query;
    expect(Object.fromEntries(q)).toMatchObject({ search_query: "all:attention", start: "0", max_results: "5", sortBy: "submittedDate" });
  });

  it("wolfram_query returns the LLM API's text, the app id from the environment", async () => {
    const r = await k.call("wolfram_query", { input: "integrate x^2" });
    expect(r.isError).toBe(false);
    expect(r.text).toContain("x^3/3 + constant");
    expect(r.text).toContain("https://www.wolframalpha.com/input?i=");
    const q = f.wolfram.requests.at(-1)!.query;
    expect(q.get("appid")).toBe(APP_ID);
    expect(q.get("maxchars")).toBe("3000");
  });
});

describe("knowledge options", () => {
  it("a bad option makes the server 'failed' with what to fix; its calls fail fast", async () => {
    const bad = await f.host("bad-options", { arxiv_interval_ms: -5 });
    expect(bad.host.servers()[0]).toMatchObject({ server: "knowledge", state: "failed" });
    expect(bad.host.servers()[0]!.error).toMatch(/tools\.servers\.knowledge\.options\.arxiv_interval_ms is -5/);
    const r = await bad.call("wikipedia_search", { query: "Babbage" });
    expect(r.isError).toBe(true);
  });
});

describe("knowledge results in the tool host's cache (JetStream KV)", () => {
  it("answers a repeated call from the cache, on a second host (replica) too", async () => {
    const before = f.wolfram.requests.length;
    const first = await k.call("wolfram_query", { input: "10 mph in km/h" });
    expect(first.text).toContain("16.09 km/h");
    const again = await k.call("wolfram_query", { input: "10 mph in km/h" });
    await k.host.drain(1_000); // the replica alone serves now
    const replica = await f.host("main");
    const fromReplica = await replica.call("wolfram_query", { input: "10 mph in km/h" });
    expect(f.wolfram.requests.length - before).toBe(1);
    expect(again.text).toBe(first.text);
    expect(fromReplica.text).toBe(first.text);
    k = replica;
  });

  it("does not cache failures, and reaches the service again after the TTL", async () => {
    const short = await f.host("short-ttl", { cache_ttl_s: 0.4 });
    const before = f.wiki.requests.length;
    expect((await short.call("wikipedia_search", { query: "polymath", limit: 3 })).isError).toBe(false);
    expect((await short.call("wikipedia_search", { query: "polymath", limit: 3 })).isError).toBe(false);
    expect(f.wiki.requests.length - before).toBe(1);
    await sleep(600);
    expect((await short.call("wikipedia_search", { query: "polymath", limit: 3 })).isError).toBe(false);
    expect(f.wiki.requests.length - before).toBe(2);
    const missBefore = f.wiki.requests.length;
    await short.call("wikipedia_search", { query: "zzqx nothing", limit: 3 });
    await short.call("wikipedia_search", { query: "zzqx nothing", limit: 3 });
    expect(f.wiki.requests.length - missBefore).toBe(2);
  });

  it("serves uncached when the bucket cannot be opened", async () => {
    // A bucket name JetStream refuses (too long a stream name is rejected by the server).
    const broken = await f.host("no-cache", {}, undefined, { enabled: true, bucket: "x".repeat(300), max_ttl_s: 60 });
    const before = f.wiki.requests.length;
    for (let i = 0; i < 2; i++) {
      const r = await broken.call("wikipedia_search", { query: "Countess", limit: 1 });
      expect(r.isError).toBe(false);
      expect(r.text).toContain("Ada Lovelace");
    }
    expect(f.wiki.requests.length - before).toBe(2); // no cache, both reached Wikipedia
  });
});

describe("arXiv pacing", () => {
  it("spaces two quick calls by the configured interval", async () => {
    const before = f.arxiv.requests.length;
    const [a, b] = await Promise.all([
      k.call("arxiv_search", { query: "scaling laws" }),
      k.call("arxiv_search", { query: "transformers" }),
    ]);
    expect(a.isError || b.isError).toBe(false);
    const seen = f.arxiv.requests.slice(before);
    expect(seen.length).toBe(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(300 - 30);
  });
});
