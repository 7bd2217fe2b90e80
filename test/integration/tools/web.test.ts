/**
 * The web built-in over NATS (real nats-server): web_search against the SearXNG double, fetch_page
 * and browse (real Chromium) against pages served on localhost, the SSRF guard, caps, bad inputs.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/client";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { createMcpClient } from "../../../tools/client.ts";
import { startToolHost, type ToolHost } from "../../../tools/host.ts";
import { connectSdkClient } from "../../../tools/sdk.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import type { DoubleServer } from "../../doubles/http.ts";
import { startSearxngDouble, type SearxngDouble } from "../../doubles/searxng.ts";
import { ARTICLE_SENTENCE, startPages } from "./web-pages.ts";

let nats: NatsServer;
let mesh: Mesh;
let searx: SearxngDouble;
let pages: DoubleServer;
let host: ToolHost;
let open: Client; // allow_private: true (pages on localhost)
let guarded: Client; // the default: private addresses refused

beforeAll(async () => {
  if (!existsSync("/usr/bin/chromium"))
    throw new Error("these tests need Debian's chromium at /usr/bin/chromium: sudo apt-get install chromium");
  nats = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: nats.url });
  pages = await startPages();
  searx = await startSearxngDouble({
    results: (q) =>
      q === "nothing"
        ? []
        : [
            { url: `${pages.url}/article`, title: "Streams in depth", content: "How JetStream keeps messages" },
            { url: "https://example.org/other", title: "Other", content: "another page" },
            { url: `${pages.url}/article`, title: "duplicate", content: "the same URL again" },
          ],
  });
  const common = { searxng_url: searx.url, max_bytes: 100_000, timeout_ms: 1500, max_redirects: 3, action_timeout_ms: 1500 };
  host = await startToolHost(mesh, {
    tenant: "t",
    host: "h",
    servers: { web: { builtin: "web", options: { ...common, allow_private: true } }, guarded: { builtin: "web", options: common } },
    log: silentLogger,
  });
  open = await connectSdkClient(createMcpClient(mesh, { tenant: "t", user: "pragmatist" }), "web");
  guarded = await connectSdkClient(createMcpClient(mesh, { tenant: "t", user: "pragmatist" }), "guarded");
});
afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await host?.close();
  await searx?.close();
  await pages?.close();
  await mesh?.close();
  await nats?.close();
});

type Outcome = { isError: boolean; text: string; content: { type: string; text?: string; data?: string; mimeType?: string }[] };
/** A tools/call's outcome: a result (maybe isError) or a JSON-RPC error folded into an error outcome. */
async function call(c: Client, name: string, args: unknown): Promise<Outcome> {
  try {
    const r = (await c.callTool({ name, arguments: args as Record<string, unknown> })) as {
      isError?: boolean;
      content: Outcome["content"];
    };
    return {
      isError: r.isError === true,
      text: r.content
        .filter((b) => b.type === "text")
        .map((b) => b.text)
        .join("\n"),
      content: r.content,
    };
  } catch (err) {
    return { isError: true, text: `rpc error: ${(err as Error).message}`, content: [] };
  }
}

describe("web_search (SearXNG double)", () => {
  it("returns numbered results with URL and snippet, without duplicates, asking for format=json", async () => {
    const r = await call(open, "web_search", { query: "jetstream streams" });
    expect(r.isError).toBe(false);
    expect(r.text).toContain(`1. Streams in depth\n   ${pages.url}/article\n   How JetStream keeps messages`);
    expect(r.text).toContain("2. Other");
    expect(r.text).not.toContain("duplicate");
    expect(searx.requests.at(-1)).toMatchObject({
      method: "GET",
      path: "/search",
      body: { q: "jetstream streams", format: "json", pageno: "1" },
    });
    expect((await call(open, "web_search", { query: "nothing" })).text).toMatch(/No results for 'nothing'/);
  });

  it("a 429 and a 403 (json format disabled) are tool errors with a reason; the next search works", async () => {
    searx.rateLimit(1);
    const limited = await call(open, "web_search", { query: "x" });
    expect(limited).toMatchObject({ isError: true });
    expect(limited.text).toMatch(/rate limiting \(HTTP 429/);
    searx.setJson(false);
    const forbidden = await call(open, "web_search", { query: "x" });
    searx.setJson(true);
    expect(forbidden.isError).toBe(true);
    expect(forbidden.text).toMatch(/HTTP 403.*enable 'json'/);
    expect((await call(open, "web_search", { query: "x" })).isError).toBe(false);
  });
});

describe("fetch_page", () => {
  it("returns the article's readable text, not navigation, scripts or footer", async () => {
    const r = await call(open, "fetch_page", { url: `${pages.url}/article` });
    expect(r.isError).toBe(false);
    expect(r.text).toMatch(/^Title: Streams in depth\nURL: http:\/\/127\.0\.0\.1:\d+\/article\n\n/);
    expect(r.text).toContain(ARTICLE_SENTENCE);
    for (const noise of ["NAVIGATION-NOISE", "SCRIPT-NOISE-42", "FOOTER-NOISE", "color:red"]) expect(r.text).not.toContain(noise);
  });

  it("follows redirects (re-checked), reads plain text, and says why other pages fail", async () => {
    expect((await call(open, "fetch_page", { url: `${pages.url}/redirect` })).text).toContain(`URL: ${pages.url}/article`);
    expect((await call(open, "fetch_page", { url: `${pages.url}/plain` })).text).toContain("just some plain text");
    const cases: [string, RegExp][] = [
      ["/loop", /too many redirects \(more than 3\)/],
      ["/to-file", /redirect target 'file:\/\/\/etc\/passwd' uses the scheme 'file:'/],
      ["/image.png", /is 'image\/png', not a text or HTML page/],
      ["/missing", /^'http:\/\/127\.0\.0\.1:\d+\/missing' answered HTTP 404; try another page$/],
    ];
    for (const [path, reason] of cases) {
      const r = await call(open, "fetch_page", { url: `${pages.url}${path}` });
      expect(r.isError, path).toBe(true);
      expect(r.text, path).toMatch(reason);
    }
  });

  it("caps size (declared and streamed) and time", async () => {
    for (const path of ["/big", "/big-chunked"]) {
      const r = await call(open, "fetch_page", { url: `${pages.url}${path}` });
      expect(r.isError, path).toBe(true);
      expect(r.text, path).toMatch(/larger than 100000 bytes \(the server's options\.max_bytes\)/);
    }
    const started = Date.now();
    const slow = await call(open, "fetch_page", { url: `${pages.url}/slow` });
    expect(slow.isError).toBe(true);
    expect(slow.text).toMatch(/did not answer within 1500 ms/);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it("the SSRF guard refuses loopback, a name that resolves to it, and cloud metadata, unless allowed", async () => {
    const port = new URL(pages.url).port;
    for (const url of [
      `${pages.url}/article`,
      `http://localhost:${port}/article`,
      "http://169.254.169.254/latest/meta-data/",
      `http://[::1]:${port}/`,
      "http://10.1.2.3/",
      "http://0.0.0.0/",
      `http://[::ffff:127.0.0.1]:${port}/`,
    ]) {
      const r = await call(guarded, "fetch_page", { url });
      expect(r.isError, url).toBe(true);
      expect(r.text, url).toMatch(/^refused: .* is a private, loopback or link-local address/);
    }
  });

  it("refuses file:, ftp:, javascript: and data: always, even when private addresses are allowed", async () => {
    for (const url of ["file:///etc/passwd", "ftp://example.org/x", "javascript:alert(1)", "data:text/html,<p>x</p>"]) {
      for (const c of [open, guarded]) {
        const r = await call(c, "fetch_page", { url });
        expect(r.isError, url).toBe(true);
        expect(r.text, url).toMatch(/uses the scheme '[a-z]+:'; only http: and https: are allowed/);
      }
    }
  });
});

describe("browse (real Chromium)", () => {
  it("navigates, types, clicks a button that changes the text, extracts it and takes a screenshot", async () => {
    const r = await call(open, "browse", {
      url: `${pages.url}/form`,
      steps: [
        { action: "extract", selector: "#out" },
        { action: "type", selector: "#name", text: "Ada" },
        { action: "click", selector: "#go" },
        { action: "extract", selector: "#out" },
        { action: "screenshot" },
        { action: "navigate", url: `${pages.url}/article` },
        { action: "extract", selector: "h1" },
      ],
    });
    expect(r.isError, r.text).toBe(false);
    expect(r.content[0]!.text).toMatch(/^opened http:\/\/127\.0\.0\.1:\d+\/form \(HTTP 200; title: "Greeter"\)/);
    expect(r.content[1]!.text).toBe("text of #out:\nnobody greeted yet");
    expect(r.content[4]!.text).toBe("text of #out:\nHello, Ada!");
    const shot = r.content[5]!;
    expect(shot).toMatchObject({ type: "image", mimeType: "image/png" });
    expect(Buffer.from(shot.data!, "base64").subarray(1, 4).toString()).toBe("PNG");
    expect(r.content[7]!.text).toBe("text of h1:\nStreams in depth");
  });

  it("without steps it extracts the page; a missing element times out as a tool error; the server goes on", async () => {
    expect((await call(open, "browse", { url: `${pages.url}/article` })).text).toContain(ARTICLE_SENTENCE);
    const r = await call(open, "browse", { url: `${pages.url}/form`, steps: [{ action: "click", selector: "#nope" }] });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/step 1 \(click #nope\) timed out after 1500 ms: no element matches '#nope'/);
    expect((await call(open, "browse", { url: `${pages.url}/form`, steps: [{ action: "extract", selector: "#out" }] })).isError).toBe(
      false,
    );
  });

  it("the SSRF guard refuses localhost and metadata navigations", async () => {
    const port = new URL(pages.url).port;
    for (const url of [`${pages.url}/form`, `http://localhost:${port}/form`, "http://169.254.169.254/"]) {
      const r = await call(guarded, "browse", { url });
      expect(r.isError, url).toBe(true);
      expect(r.text, url).toMatch(/refused: .* is a private, loopback or link-local address/);
    }
  });
});

describe("bad inputs: each an MCP error or a tool error, never a crash", () => {
  const bad: [string, unknown][] = [
    ["web_search", {}],
    ["web_search", { query: 42 }],
    ["web_search", { query: "" }],
    ["web_search", { query: "   " }],
    ["web_search", { query: "q".repeat(5000) }],
    ["web_search", { query: "x", page: 0 }],
    ["web_search", { query: "x", page: "two" }],
    ["web_search", { query: "x", extra: true }],
    ["web_search", { query: ["a", "b"] }],
    ["fetch_page", {}],
    ["fetch_page", { url: 7 }],
    ["fetch_page", { url: "not a url" }],
    ["fetch_page", { url: "/relative/path" }],
    ["fetch_page", { url: "http://" }],
    ["fetch_page", { url: `https://example.org/${"a".repeat(5000)}` }],
    ["fetch_page", { url: "http://user:pass@example.org/" }],
    ["fetch_page", { url: "gopher://example.org/" }],
    ["fetch_page", { url: "http://no-such-host.invalid/" }],
    ["browse", {}],
    ["browse", { url: "file:///etc/passwd" }],
    ["browse", { url: "about:blank" }],
    ["browse", { url: "http://x.org", steps: "click" }],
    ["browse", { url: "http://x.org", steps: [{ action: "hover", selector: "a" }] }],
    ["browse", { url: "http://x.org", steps: [{ action: "click" }] }],
    ["browse", { url: "http://x.org", steps: [{ action: "type", selector: "#q" }] }],
    ["browse", { url: "http://x.org", steps: [{ action: "navigate" }] }],
    ["browse", { url: "http://x.org", steps: [{ action: "navigate", url: "javascript:alert(1)" }] }],
    ["browse", { url: "http://x.org", steps: Array.from({ length: 50 }, () => ({ action: "extract" })) }],
    ["no_such_tool", {}],
  ];

  it(`${bad.length} bad calls each fail with a reason, and the server still answers`, async () => {
    for (const [name, args] of bad) {
      const r = await call(guarded, name, args);
      expect(r.isError, `${name} ${JSON.stringify(args).slice(0, 80)}`).toBe(true);
      expect(r.text.length, name).toBeGreaterThan(5);
    }
    expect(host.servers().find((s) => s.server === "guarded")?.state).toBe("up");
    expect((await call(guarded, "web_search", { query: "still alive" })).isError).toBe(false);
  });

  it("bad options stop the server with a message naming the option", async () => {
    const h = await startToolHost(mesh, {
      tenant: "t2",
      host: "h",
      servers: { w: { builtin: "web", options: { max_bytes: "lots" } } },
      log: silentLogger,
    });
    const s = h.servers()[0]!;
    expect(s.state).toBe("failed");
    expect(s.error).toMatch(/tools\.servers\.w\.options\.max_bytes is "lots"/);
    await h.close();
  });
});
