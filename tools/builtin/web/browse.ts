/** browse: one context per call, a list of steps (navigate, click, type, extract, screenshot), then closed. */
import type { Page } from "playwright-core";
import type { BrowserPool } from "./browser.ts";
import { WebError, WebErrorCode } from "./errors.ts";
import { clip, parseWebUrl } from "./guard.ts";
import { REFUSED_HEADER } from "./proxy.ts";
import { tidy } from "./readable.ts";

export const BrowseAction = { Navigate: "navigate", Click: "click", Type: "type", Extract: "extract", Screenshot: "screenshot" } as const;
export type BrowseAction = (typeof BrowseAction)[keyof typeof BrowseAction];

export interface BrowseStep {
  action: BrowseAction;
  url?: string;
  selector?: string;
  text?: string;
  full_page?: boolean;
}

export interface BrowseOptions {
  browseTimeoutMs: number;
  actionTimeoutMs: number;
  maxChars: number;
  maxScreenshotBytes: number;
  signal?: AbortSignal;
}

export type BrowseContent = { type: "text"; text: string } | { type: "image"; data: string; mimeType: "image/png" };

export async function browse(pool: BrowserPool, url: string, steps: BrowseStep[], o: BrowseOptions): Promise<BrowseContent[]> {
  // Input errors are found before a browser is started.
  const start = parseWebUrl(url);
  steps.forEach(checkStep);
  const refusals = new Map<string, string>();
  const ctx = await pool.context({ refusals });
  const deadline = AbortSignal.any([AbortSignal.timeout(o.browseTimeoutMs), ...(o.signal ? [o.signal] : [])]);
  // Closing the context makes whatever step is running reject at once.
  let closing: Promise<void> | undefined;
  const closeCtx = () => (closing ??= ctx.close().catch(() => {}));
  const onAbort = () => void closeCtx();
  deadline.addEventListener("abort", onAbort, { once: true });
  const out: BrowseContent[] = [];
  try {
    const page = await ctx.newPage();
    page.setDefaultTimeout(o.actionTimeoutMs);
    // A page load may take longer than a click: only the whole call's cap bounds navigations.
    page.setDefaultNavigationTimeout(o.browseTimeoutMs);
    out.push(await navigate(page, start.href, refusals));
    for (const [i, step] of steps.entries()) {
      try {
        out.push(await run(page, step, o, refusals));
      } catch (err) {
        throw stepError(err, i, step, deadline, o);
      }
    }
    return out;
  } catch (err) {
    throw stepError(err, -1, undefined, deadline, o);
  } finally {
    deadline.removeEventListener("abort", onAbort);
    await closeCtx();
  }
}

function checkStep(s: BrowseStep, i: number): void {
  const need = (field: "selector" | "text" | "url") => {
    if (typeof s[field] !== "string" || (field !== "text" && !s[field]))
      throw new WebError(WebErrorCode.BadInput, `step ${i + 1} (${s.action}) needs '${field}'`);
  };
  if (s.action === BrowseAction.Navigate) {
    need("url");
    parseWebUrl(s.url!, `step ${i + 1} url`);
  }
  if (s.action === BrowseAction.Click) need("selector");
  if (s.action === BrowseAction.Type) {
    need("selector");
    need("text");
  }
}

async function run(page: Page, s: BrowseStep, o: BrowseOptions, refusals: Map<string, string>): Promise<BrowseContent> {
  switch (s.action) {
    case BrowseAction.Navigate:
      return navigate(page, parseWebUrl(s.url!).href, refusals);
    case BrowseAction.Click:
      await page.click(s.selector!);
      // Let what the click started (a navigation, a script) settle before the next step.
      await page.waitForLoadState("load").catch(() => {});
      return text(`clicked ${s.selector}`);
    case BrowseAction.Type:
      await page.fill(s.selector!, s.text!);
      return text(`typed ${JSON.stringify(clip(s.text!, 80))} into ${s.selector}`);
    case BrowseAction.Extract: {
      const sel = s.selector || "body";
      const all = tidy(await page.locator(sel).first().innerText());
      const cut = all.length > o.maxChars;
      return text(`text of ${sel}:\n${cut ? all.slice(0, o.maxChars) + `\n[cut at ${o.maxChars} characters]` : all}`);
    }
    case BrowseAction.Screenshot:
      return screenshot(page, s.full_page === true, o.maxScreenshotBytes);
  }
}

async function navigate(page: Page, url: string, refusals: Map<string, string>): Promise<BrowseContent> {
  try {
    const res = await page.goto(url, { waitUntil: "load" });
    // The guard proxy refused a hop (a redirect to a private address): say so, not "HTTP 403".
    const refusal = res?.headers()[REFUSED_HEADER];
    if (refusal) throw new WebError(WebErrorCode.Refused, decodeURIComponent(refusal));
    return text(`opened ${page.url()} (HTTP ${res?.status() ?? "?"}; title: ${JSON.stringify(await page.title())})`);
  } catch (err) {
    const reason = refusals.get(url) ?? [...refusals.values()][0];
    if (reason) throw new WebError(WebErrorCode.Refused, reason, { cause: err });
    throw err;
  }
}

async function screenshot(page: Page, fullPage: boolean, max: number): Promise<BrowseContent> {
  let png = await page.screenshot({ type: "png", fullPage });
  // A long page may not fit: the visible part usually does.
  if (png.length > max && fullPage) png = await page.screenshot({ type: "png" });
  if (png.length > max)
    throw new WebError(
      WebErrorCode.TooLarge,
      `the screenshot is ${png.length} bytes, over the cap of ${max} (options.max_screenshot_bytes); extract text instead`,
    );
  return { type: "image", data: png.toString("base64"), mimeType: "image/png" };
}

const text = (t: string): BrowseContent => ({ type: "text", text: t });

function stepError(err: unknown, i: number, s: BrowseStep | undefined, deadline: AbortSignal, o: BrowseOptions): WebError {
  if (err instanceof WebError) return err;
  const where = s ? `step ${i + 1} (${s.action}${s.selector ? ` ${s.selector}` : ""})` : "browse";
  if (deadline.aborted)
    return new WebError(
      WebErrorCode.Timeout,
      `${where}: the call took longer than ${o.browseTimeoutMs} ms (options.browse_timeout_ms) or was cancelled`,
      { cause: err },
    );
  const msg = (err as Error).message ?? String(err);
  if (/Timeout \d+ms exceeded/.test(msg))
    return new WebError(
      WebErrorCode.Timeout,
      `${where} timed out after ${o.actionTimeoutMs} ms: ` +
        `${s?.selector ? `no element matches '${s.selector}'` : "the page did not finish loading"}; check the selector or the page`,
      { cause: err },
    );
  return new WebError(WebErrorCode.Upstream, `${where} failed: ${clip(msg.split("\n")[0] ?? msg, 300)}`, { cause: err });
}
