/** browse's browser directly (real Chromium): one context per call, closed after success, failure and timeout; missing Chromium. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browse, type BrowseOptions } from "../../../tools/builtin/web/browse.ts";
import { browserPool, type BrowserPool } from "../../../tools/builtin/web/browser.ts";
import type { DoubleServer } from "../../doubles/http.ts";
import { startPages } from "./web-pages.ts";

let pages: DoubleServer;
let pool: BrowserPool;
const o = (over: Partial<BrowseOptions> = {}): BrowseOptions => ({
  browseTimeoutMs: 20_000,
  actionTimeoutMs: 2000,
  maxChars: 60,
  maxScreenshotBytes: 10_000_000,
  ...over,
});

beforeAll(async () => {
  pages = await startPages();
  pool = browserPool("/usr/bin/chromium", true);
});
afterAll(async () => {
  await pool?.close();
  await pages?.close();
});

describe("browse's browser", () => {
  it("closes each call's context after success and after failure; long text is cut at max_chars", async () => {
    const out = await browse(pool, `${pages.url}/article`, [{ action: "extract", selector: "article" }], o());
    expect(out[1]).toMatchObject({ type: "text", text: expect.stringMatching(/\[cut at 60 characters\]$/) as unknown });
    expect(pool.openContexts()).toBe(0);
    await expect(
      browse(pool, `${pages.url}/form`, [{ action: "click", selector: "#absent" }], o({ actionTimeoutMs: 300 })),
    ).rejects.toThrow(/timed out after 300 ms/);
    expect(pool.openContexts()).toBe(0);
  });

  it("calls in parallel get separate contexts; a call over browse_timeout_ms stops with a timeout", async () => {
    const [a, b] = await Promise.all([
      browse(
        pool,
        `${pages.url}/form`,
        [
          { action: "type", selector: "#name", text: "A" },
          { action: "click", selector: "#go" },
          { action: "extract", selector: "#out" },
        ],
        o(),
      ),
      browse(pool, `${pages.url}/form`, [{ action: "extract", selector: "#out" }], o()),
    ]);
    expect(a.at(-1)).toMatchObject({ text: "text of #out:\nHello, A!" });
    expect(b.at(-1)).toMatchObject({ text: "text of #out:\nnobody greeted yet" });
    await expect(browse(pool, `${pages.url}/slow`, [], o({ browseTimeoutMs: 1000, actionTimeoutMs: 5000 }))).rejects.toThrow(
      /took longer than 1000 ms \(options\.browse_timeout_ms\)/,
    );
    expect(pool.openContexts()).toBe(0);
  });

  it("a screenshot over the cap is a tool error that says to extract text instead", async () => {
    await expect(
      browse(pool, `${pages.url}/article`, [{ action: "screenshot", full_page: true }], o({ maxScreenshotBytes: 1000 })),
    ).rejects.toThrow(/over the cap of 1000 \(options\.max_screenshot_bytes\); extract text instead/);
  });

  it("a redirect to a refused address is refused by the guard proxy (Chromium does not route redirects)", async () => {
    // 127.0.0.2 stands for a public host; only 127.0.0.1 (the pages) is refused.
    const publicish: Server = createServer((req, res) => {
      if (req.url === "/to-private") return void res.writeHead(302, { location: `${pages.url}/article` }).end();
      res
        .writeHead(200, { "content-type": "text/html" })
        .end("<html><head><title>Public</title></head><body><p id='p'>public page</p></body></html>");
    });
    await new Promise<void>((r) => publicish.listen(0, "127.0.0.2", r));
    const pub = `http://127.0.0.2:${(publicish.address() as AddressInfo).port}`;
    const guarded = browserPool("/usr/bin/chromium", (ip) => ip === "127.0.0.1" || ip === "::1");
    try {
      const ok = await browse(guarded, `${pub}/`, [{ action: "extract", selector: "#p" }], o());
      expect(ok.at(-1)).toMatchObject({ text: "text of #p:\npublic page" });
      await expect(browse(guarded, `${pub}/to-private`, [], o())).rejects.toThrow(
        /^refused: '127\.0\.0\.1' is a private, loopback or link-local address/,
      );
      await expect(browse(guarded, `${pub}/`, [{ action: "navigate", url: `${pages.url}/form` }], o())).rejects.toThrow(
        /^refused: '127\.0\.0\.1'/,
      );
      expect(guarded.openContexts()).toBe(0);
    } finally {
      await guarded.close();
      publicish.closeAllConnections();
      await new Promise((r) => publicish.close(r));
    }
  });

  it("missing Chromium says what to install; a closed pool refuses new calls", async () => {
    const none = browserPool("/nonexistent/chromium", true);
    await expect(browse(none, `${pages.url}/form`, [], o())).rejects.toThrow(
      "browse needs Chromium, which is not at /nonexistent/chromium: " +
        "install it (sudo apt-get install chromium) or set tools.servers.web.options.chromium_path",
    );
    await none.close();
    const p = browserPool("/usr/bin/chromium", true);
    await browse(p, `${pages.url}/form`, [], o());
    await p.close();
    await p.close(); // twice is fine
    await expect(browse(p, `${pages.url}/form`, [], o())).rejects.toThrow(/stopping/);
  });
});
