/** The web MCP server: web_search, fetch_page and browse, each failure a tool error the model can read. */
import { McpServer } from "@modelcontextprotocol/server";
import { browse, BrowseAction } from "./browse.ts";
import type { BrowserPool } from "./browser.ts";
import { toolError, WebError, WebErrorCode } from "./errors.ts";
import { cappedGet } from "./http.ts";
import type { WebOptions } from "./options.ts";
import { readableText } from "./readable.ts";
import { BrowseInput, FetchPageInput, WebSearchInput } from "./schemas.ts";
import { formatHits, searxngSearch } from "./search.ts";

export function webServer(o: WebOptions, pool: BrowserPool): McpServer {
  const server = new McpServer({ name: "lyra-web", version: "0.1.0" });
  server.registerTool(
    "web_search",
    {
      description:
        "Searches the web. Returns a numbered list of results, each with a title, its URL and a snippet. " +
        "Use fetch_page on a result's URL to read the page.",
      inputSchema: WebSearchInput,
    },
    async ({ query, page }, ctx) => {
      try {
        const hits = await searxngSearch(query, page ?? 1, {
          searxngUrl: o.searxng_url,
          maxResults: o.max_results,
          timeoutMs: o.timeout_ms,
          signal: ctx.mcpReq.signal,
        });
        return { content: [{ type: "text", text: formatHits(query, hits) }] };
      } catch (err) {
        return toolError(err);
      }
    },
  );
  server.registerTool(
    "fetch_page",
    {
      description:
        "Reads a web page and returns its title and main text (no menus, ads or scripts). Give the page's full http:// or https:// URL.",
      inputSchema: FetchPageInput,
    },
    async ({ url }, ctx) => {
      try {
        const page = await cappedGet(url, {
          allowPrivate: o.allow_private,
          maxBytes: o.max_bytes,
          timeoutMs: o.timeout_ms,
          maxRedirects: o.max_redirects,
          signal: ctx.mcpReq.signal,
        });
        if (page.status >= 400)
          return toolError(new WebError(WebErrorCode.Upstream, `'${page.url}' answered HTTP ${page.status}; try another page`));
        const { title, text } = await readableText(page);
        const cut = text.length > o.max_chars;
        const body = cut ? `${text.slice(0, o.max_chars)}\n[cut at ${o.max_chars} characters]` : text;
        return { content: [{ type: "text", text: `${title ? `Title: ${title}\n` : ""}URL: ${page.url}\n\n${body}` }] };
      } catch (err) {
        return toolError(err);
      }
    },
  );
  server.registerTool(
    "browse",
    {
      description:
        "Opens a page in a real web browser (runs its JavaScript) and performs steps in order: " +
        "navigate, click, type, extract (text), screenshot (an image). " +
        "Example: {url: 'https://example.org', steps: [{action: 'type', selector: '#q', text: 'nats'}, " +
        "{action: 'click', selector: 'button'}, {action: 'extract'}]}. " +
        "Prefer fetch_page for plain reading; it is faster.",
      inputSchema: BrowseInput,
    },
    async ({ url, steps }, ctx) => {
      try {
        const content = await browse(pool, url, steps?.length ? steps : [{ action: BrowseAction.Extract }], {
          browseTimeoutMs: o.browse_timeout_ms,
          actionTimeoutMs: o.action_timeout_ms,
          maxChars: o.max_chars,
          maxScreenshotBytes: o.max_screenshot_bytes,
          signal: ctx.mcpReq.signal,
        });
        return { content };
      } catch (err) {
        return toolError(err);
      }
    },
  );
  return server;
}
