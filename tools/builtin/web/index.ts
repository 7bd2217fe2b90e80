/**
 * `web`: the built-in web tool server (web_search through SearXNG, fetch_page, browse with Chromium).
 * Options are checked at start; the browser is launched on the first browse call and closed here.
 */
import type { BuiltinToolServer } from "../index.ts";
import { browserPool } from "./browser.ts";
import { parseWebOptions } from "./options.ts";
import { webServer } from "./server.ts";

export { WEB_DEFAULTS, type WebOptions } from "./options.ts";
export { isPrivateAddress } from "./guard.ts";

export const webBuiltin: BuiltinToolServer = {
  description: "web search (SearXNG), readable pages, and a real browser",
  start: ({ server, options }) => {
    const o = parseWebOptions(server, options);
    const pool = browserPool(o.chromium_path, o.allow_private);
    return { create: () => webServer(o, pool), close: () => pool.close() };
  },
};
