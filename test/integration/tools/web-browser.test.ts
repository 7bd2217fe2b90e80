/** browse's browser directly (real Chromium): one context per call, closed after success, failure and timeout; missing Chromium. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browse, type BrowseOptions } from "../../../tools/builtin/web/browse.ts";
import { browserPool, type BrowserPool } from "../../../tools/builtin/web/browser.ts";
import type { DoubleServer } from "../../doubles/http.ts";
import { startPages } from "./web-pages.ts";

let pages: DoubleServer;
let pool: BrowserPool;
const o = (over: Partial<BrowseOptions> = {}): BrowseOptions => ({ allowPrivate: true, browseTimeoutMs: 20_000, actionTimeoutMs: 2000, maxChars: 60, maxScreenshotBytes: 10_000_000, ...over });

beforeAll(async () => {
  pages = await startPages();
  pool = browserPool("/usr/bin/chromium");
});
afterAll(async () => {
  await pool?.close();
  await pages?.stop();
});

describe("browse's browser", () => {
  it("closes each call's context after success and after failure; long text is cut at max_chars", async () => {
    const out = await browse(pool, `${pages.url}/article`, [{ action: "extract", selector: "article" }], o());
    expect(out[1]).toMatchObject({ type: "text", text: expect.stringMatching(/\[cut at 60 characters\]$/) as unknown });
    expect(pool.openContexts()).toBe(0);
    await expect(browse(pool, `${pages.url}/form`, [{ action: "click", selector: "#absent" }], o({ actionTimeoutMs: 300 }))).rejects.toThrow(/timed out after 300 ms/);
    expect(pool.openContexts()).toBe(0);
  });

  it("calls in parallel get separate contexts; a call over browse_timeout_ms stops with a timeout", async () => {
    const [a, b] = await Promise.all([
      browse(pool, `${pages.url}/form`, [{ action: "type", selector: "#name", text: "A" }, { action: "click", selector: "#go" }, { action: "extract", selector: "#out" }], o()),
      browse(pool, `${pages.url}/form`, [{ action: "extract", selector: "#out" }], o()),
    ]);
    expect(a.at(-1)).toMatchObject({ text: "text of #out:\nHello, A!" });
    expect(b.at(-1)).toMatchObject({ text: "text of #out:\nnobody greeted yet" });
    await expect(browse(pool, `${pages.url}/slow`, [], o({ browseTimeoutMs: 1000, actionTimeoutMs: 5000 }))).rejects.toThrow(/took longer than 1000 ms \(options\.browse_timeout_ms\)/);
    expect(pool.openContexts()).toBe(0);
  });

  it("a screenshot over the cap is a tool error that says to extract text instead", async () => {
    await expect(browse(pool, `${pages.url}/article`, [{ action: "screenshot", full_page: true }], o({ maxScreenshotBytes: 1000 }))).rejects.toThrow(/over the cap of 1000 \(options\.max_screenshot_bytes\); extract text instead/);
  });

  it("missing Chromium says what to install; a closed pool refuses new calls", async () => {
    const none = browserPool("/nonexistent/chromium");
    await expect(browse(none, `${pages.url}/form`, [], o())).rejects.toThrow("browse needs Chromium, which is not at /nonexistent/chromium: install it (sudo apt-get install chromium) or set tools.servers.web.options.chromium_path");
    await none.close();
    const p = browserPool("/usr/bin/chromium");
    await browse(p, `${pages.url}/form`, [], o());
    await p.close();
    await p.close(); // twice is fine
    await expect(browse(p, `${pages.url}/form`, [], o())).rejects.toThrow(/stopping/);
  });
});
