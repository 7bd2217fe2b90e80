/**
 * One headless Chromium per web server (Debian's, through playwright-core), launched on the first
 * browse call and closed with the server. Each call gets its own context (cookies, storage), closed
 * after the call, so calls never see each other's state.
 */
import { access, constants } from "node:fs/promises";
import type { Browser, BrowserContext } from "playwright-core";
import { WebError, WebErrorCode } from "./errors.ts";
import { checkUrlAddress, isPrivateAddress, type AddressPolicy } from "./guard.ts";
import { startGuardProxy, type GuardProxy } from "./proxy.ts";

// Without the background-networking flags Chromium keeps calling Google's hosts, which a closed
// network refuses at every start; --no-sandbox because the tool host may run as root in a container.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface BrowserPool {
  /** A fresh context whose every request passes the SSRF guard; refusals are recorded in `refusals`. */
  context(o: { refusals: Map<string, string> }): Promise<BrowserContext>;
  /** Contexts open now (each call's is closed when it ends): for tests and stats. */
  openContexts(): number;
  close(): Promise<void>;
}

/** `policy` is options.allow_private (tests pass a function that refuses chosen addresses). */
export function browserPool(chromiumPath: string, policy: AddressPolicy): BrowserPool {
  let browser: Promise<Browser> | undefined;
  let proxy: Promise<GuardProxy> | undefined;
  let closed = false;
  let open = 0;

  const launch = async (): Promise<Browser> => {
    try {
      await access(chromiumPath, constants.X_OK);
    } catch {
      throw new WebError(
        WebErrorCode.Unavailable,
        `browse needs Chromium, which is not at ${chromiumPath}: ` +
          `install it (sudo apt-get install chromium) or set tools.servers.web.options.chromium_path`,
      );
    }
    // Loaded on first use: playwright-core takes seconds to import, and every `lyra` command loads the built-ins.
    const { chromium } = await import("playwright-core");
    // Unless private addresses are allowed, all of Chromium's traffic goes through the guard proxy
    // (Playwright proxies loopback too); its redirects never reach the route handler below.
    const guard = policy === true ? undefined : await (proxy ??= startGuardProxy(policy));
    const b = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
      ...(guard ? { proxy: { server: guard.url } } : {}),
    });
    // A crashed browser is launched again on the next call.
    b.on("disconnected", () => (browser = undefined));
    return b;
  };

  return {
    async context({ refusals }) {
      if (closed) throw new WebError(WebErrorCode.Unavailable, "the web server is stopping");
      browser ??= launch().catch((err: unknown) => {
        browser = undefined;
        if (err instanceof WebError) throw err;
        throw new WebError(
          WebErrorCode.Unavailable,
          `Chromium at ${chromiumPath} did not start: ${(err as Error).message.split("\n")[0]}`,
          { cause: err },
        );
      });
      const ctx = await (
        await browser
      ).newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: false, serviceWorkers: "block" });
      open++;
      ctx.on("close", () => void open--);
      if (policy !== true) {
        // Every first request (navigation, frames, fetches, images) passes the guard here, for a clear message.
        await ctx.route("**/*", async (route) => {
          const url = route.request().url();
          try {
            const u = new URL(url);
            if (u.protocol !== "http:" && u.protocol !== "https:")
              throw new WebError(
                WebErrorCode.Refused,
                `refused: '${url}' uses the scheme '${u.protocol}'; only http: and https: are allowed`,
              );
            await checkUrlAddress(u, policy);
            await route.continue();
          } catch (err) {
            refusals.set(url, (err as Error).message);
            await route.abort("blockedbyclient").catch(() => {});
          }
        });
        // WebSockets are not routed as requests and there is no resolver hook here: only those to public IP literals pass.
        await ctx.routeWebSocket(/.*/, (ws) => {
          const host = new URL(ws.url()).hostname.replace(/^\[|\]$/g, "");
          if (isPrivateAddress(host) || host === "localhost" || typeof policy === "function")
            return ws.close({ code: 1008, reason: "refused by the SSRF guard" });
          ws.connectToServer();
        });
      }
      return ctx;
    },
    openContexts: () => open,
    async close() {
      closed = true;
      const b = browser;
      browser = undefined;
      if (b) await (await b.catch(() => undefined))?.close().catch(() => {});
      const p = proxy;
      proxy = undefined;
      if (p) await (await p.catch(() => undefined))?.close();
    },
  };
}
