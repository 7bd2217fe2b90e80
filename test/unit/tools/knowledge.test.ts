/** knowledge's pure parts: options checks, the Atom reader, the limiter. */
import { describe, expect, it } from "vitest";
import { parseAtom } from "../../../tools/builtin/knowledge/atom.ts";
import { createLimiter } from "../../../tools/builtin/knowledge/limiter.ts";
import { KNOWLEDGE_DEFAULTS, parseKnowledgeOptions, userAgent } from "../../../tools/builtin/knowledge/options.ts";

describe("knowledge options", () => {
  it("defaults to the public endpoints and arXiv's 3 s", () => {
    const o = parseKnowledgeOptions("knowledge", {});
    expect(o).toMatchObject({
      wikipedia_url: KNOWLEDGE_DEFAULTS.wikipedia_url,
      arxiv_url: "https://export.arxiv.org/api/query",
      arxiv_interval_ms: 3000,
      cache_ttl_s: 3600,
      wolfram_app_id_env: "WOLFRAM_APP_ID",
    });
    expect(userAgent({ ...o, contact: "ops@example.org" })).toMatch(/^lyra-mesh-knowledge\/0\.1 \(ops@example\.org\) node\/\d+/);
  });

  it("still accepts the deprecated cache_bucket (the tool host's tools.cache.bucket replaces it)", () => {
    expect(parseKnowledgeOptions("kn", { cache_bucket: "MY_CACHE" }).cache_bucket).toBe("MY_CACHE");
  });

  it.each([
    [{ arxiv_interval_ms: -1 }, /tools\.servers\.kn\.options\.arxiv_interval_ms is -1: .*; fix it or remove it for the default/],
    [{ wikipedia_url: "ftp://x" }, /options\.wikipedia_url is "ftp:\/\/x"/],
    [{ timeout_ms: "fast" }, /options\.timeout_ms is "fast"/],
    [{ cache_ttl: 5 }, /options has unknown keys 'cache_ttl'; use only: .*cache_ttl_s/],
    [{ wolfram_app_id_env: "not a var" }, /options\.wolfram_app_id_env is "not a var"/],
  ])("refuses %j naming the option and the fix", (options, message) => {
    expect(() => parseKnowledgeOptions("kn", options)).toThrow(message);
  });
});

describe("arXiv Atom reader", () => {
  const feed = (entries: string) =>
    `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">` +
    `<opensearch:totalResults xmlns:opensearch="x">2</opensearch:totalResults>${entries}</feed>`;
  it("reads entries, entities, CDATA and links; skips the feed's own link", () => {
    const f = parseAtom(
      feed(
        `<entry><id>http://arxiv.org/abs/1</id><title>A &amp; B &#x3b1;</title><summary><![CDATA[x < y]]></summary>` +
          `<author><name>Ann</name></author>` +
          `<author><name>Bo</name><arxiv:affiliation>U</arxiv:affiliation></author><link href="http://arxiv.org/abs/1" rel="alternate"/>` +
          `<link title="pdf" href="http://arxiv.org/pdf/1" rel="related"/><arxiv:primary_category term="cs.AI" scheme="s"/></entry>`,
      ),
    );
    expect(f).toEqual({
      totalResults: 2,
      entries: [
        {
          id: "http://arxiv.org/abs/1",
          title: "A & B α",
          summary: "x < y",
          published: undefined,
          authors: ["Ann", "Bo"],
          absUrl: "http://arxiv.org/abs/1",
          pdfUrl: "http://arxiv.org/pdf/1",
          category: "cs.AI",
        },
      ],
    });
  });
  it.each([["not xml at all"], ["<feed><entry><title>cut"], ["<feed><entry><title>x</title></feed>"], [""], ["<html></html>"]])(
    "refuses %j",
    (xml) => {
      expect(parseAtom(xml)).toBeUndefined();
    },
  );
});

describe("knowledge limiter", () => {
  it("runs one at a time, spaced, and keeps going after a failure", async () => {
    const l = createLimiter(50);
    const starts: number[] = [];
    const job = (fail: boolean) => l.run(async () => (starts.push(performance.now()), fail ? Promise.reject(new Error("x")) : 1));
    const results = await Promise.allSettled([job(false), job(true), job(false)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(45);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(45);
  });
  it("stops waiting when the caller aborts", async () => {
    const l = createLimiter(10_000);
    await l.run(async () => 1);
    const ac = new AbortController();
    const waiting = l.run(async () => 2, ac.signal);
    ac.abort();
    await expect(waiting).rejects.toThrow();
  });
});
