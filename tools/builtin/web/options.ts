/** `tools.servers.<name>.options` of the web server, checked at start with messages that say what to fix. */
import { z } from "zod";
import { parseServerOptions, seeExampleConfig } from "../options.ts";

/** Defaults, named so the README and the config example can quote them. */
export const WEB_DEFAULTS = {
  max_bytes: 5 * 1024 * 1024,
  timeout_ms: 15_000,
  max_redirects: 5,
  max_chars: 15_000,
  max_results: 8,
  chromium_path: "/usr/bin/chromium",
  browse_timeout_ms: 60_000,
  action_timeout_ms: 10_000,
  max_screenshot_bytes: 1024 * 1024,
} as const;

const WebOptionsSchema = z.strictObject({
  /** SearXNG base URL (its `/search` must allow `format=json`); web_search says it is unset otherwise. */
  searxng_url: z.url({ protocol: /^https?$/ }).optional(),
  /** Lets fetch_page and browse reach private, loopback and link-local addresses (off: no SSRF from a tool call). */
  allow_private: z.boolean().default(false),
  max_bytes: z
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(WEB_DEFAULTS.max_bytes),
  timeout_ms: z.int().min(100).max(300_000).default(WEB_DEFAULTS.timeout_ms),
  max_redirects: z.int().min(0).max(20).default(WEB_DEFAULTS.max_redirects),
  max_chars: z.int().min(100).max(1_000_000).default(WEB_DEFAULTS.max_chars),
  max_results: z.int().min(1).max(50).default(WEB_DEFAULTS.max_results),
  chromium_path: z.string().min(1).default(WEB_DEFAULTS.chromium_path),
  browse_timeout_ms: z.int().min(1000).max(600_000).default(WEB_DEFAULTS.browse_timeout_ms),
  action_timeout_ms: z.int().min(100).max(120_000).default(WEB_DEFAULTS.action_timeout_ms),
  max_screenshot_bytes: z
    .int()
    .min(10_000)
    .max(20 * 1024 * 1024)
    .default(WEB_DEFAULTS.max_screenshot_bytes),
});
export type WebOptions = z.infer<typeof WebOptionsSchema>;

export function parseWebOptions(server: string, options: Readonly<Record<string, unknown>>): WebOptions {
  return parseServerOptions(WebOptionsSchema, server, options, seeExampleConfig("web"));
}
