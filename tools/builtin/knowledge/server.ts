/**
 * The knowledge MCP server, built per request around long-lived parts (the clients' limiters).
 * Every tool asks its service and marks a success cacheable for everyone (`ttlMs` from
 * `cache_ttl_s`, `cacheScope: public`): the tool host's result cache keeps it, shared by replicas.
 * Any failure becomes a tool result with `isError: true` and a reason, never a throw (and is not cached).
 */
import { McpServer, type CallToolResult } from "@modelcontextprotocol/server";
import type { Logger } from "../../../mesh/index.ts";
import { arxivSearch } from "./arxiv.ts";
import { KnowledgeError, KnowledgeErrorCode } from "./errors.ts";
import { formatArxiv, formatWikiPage, formatWikiSearch, formatWolfram } from "./format.ts";
import type { HttpContext } from "./http.ts";
import type { KnowledgeOptions } from "./options.ts";
import { ArxivSearchInput, WikipediaPageInput, WikipediaSearchInput, WolframQueryInput } from "./schemas.ts";
import { wikipediaPage, wikipediaSearch } from "./wikipedia.ts";
import { wolframQuery } from "./wolfram.ts";

export interface KnowledgeParts {
  options: KnowledgeOptions;
  http: { wikipedia: HttpContext; arxiv: HttpContext; wolfram: HttpContext };
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
}

export function knowledgeServer(p: KnowledgeParts): McpServer {
  const o = p.options;
  const server = new McpServer({ name: "lyra-knowledge", version: "0.1.0" });

  /** The same for every caller: public, for `cache_ttl_s` (0: not marked, so never cached). */
  const marking = o.cache_ttl_s > 0 ? { ttlMs: Math.round(o.cache_ttl_s * 1000), cacheScope: "public" } : {};
  const answer = async (tool: string, ask: () => Promise<string>): Promise<CallToolResult> => {
    try {
      return { content: [{ type: "text", text: await ask() }], ...marking };
    } catch (err) {
      return failure(p.log, tool, err);
    }
  };

  server.registerTool(
    "wikipedia_search",
    {
      description:
        "Search Wikipedia. Lists matching article titles with a link and a short snippet each. " +
        "Use it to find the exact title, then read the article with wikipedia_page.",
      inputSchema: WikipediaSearchInput,
    },
    async (a, ctx) =>
      answer("wikipedia_search", async () =>
        formatWikiSearch(a.query, await wikipediaSearch(p.http.wikipedia, o.wikipedia_url, a.query, a.limit, ctx.mcpReq.signal)),
      ),
  );
  server.registerTool(
    "wikipedia_page",
    {
      description:
        "Read a Wikipedia article as plain text (its lead section by default), with its link. " +
        "Give the exact title, e.g. from wikipedia_search.",
      inputSchema: WikipediaPageInput,
    },
    async (a, ctx) =>
      answer("wikipedia_page", async () =>
        formatWikiPage(await wikipediaPage(p.http.wikipedia, o.wikipedia_url, a.title, a.intro_only, a.max_chars, ctx.mcpReq.signal)),
      ),
  );
  server.registerTool(
    "arxiv_search",
    {
      description:
        "Search arXiv for research papers. Lists titles, authors, date, category, abstract and PDF links. " +
        "Slow by design: arXiv allows one request every few seconds.",
      inputSchema: ArxivSearchInput,
    },
    async (a, ctx) =>
      answer("arxiv_search", async () =>
        formatArxiv(a.query, await arxivSearch(p.http.arxiv, o.arxiv_url, a.query, a.max_results, a.sort, ctx.mcpReq.signal)),
      ),
  );
  server.registerTool(
    "wolfram_query",
    {
      description:
        "Ask Wolfram|Alpha to compute or look up a fact: math (solve, integrate, plot data), " +
        "unit conversions, science, geography, dates. Phrase it as a short query, not a conversation.",
      inputSchema: WolframQueryInput,
    },
    async (a, ctx) => {
      const appId = p.env[o.wolfram_app_id_env];
      if (!appId) {
        return failure(
          p.log,
          "wolfram_query",
          new KnowledgeError(
            KnowledgeErrorCode.Config,
            `wolfram_query is not available: the tool host has no Wolfram|Alpha app id; ` +
              `its operator must set ${o.wolfram_app_id_env} (an LLM API app id from developer.wolframalpha.com) ` +
              `in the environment of 'lyra tools'`,
          ),
        );
      }
      return answer("wolfram_query", async () =>
        formatWolfram(a.input, await wolframQuery(p.http.wolfram, o.wolfram_url, appId, a.input, a.max_chars, ctx.mcpReq.signal)),
      );
    },
  );
  return server;
}

function failure(log: Logger, tool: string, err: unknown): CallToolResult {
  if (err instanceof KnowledgeError) {
    log.info({ tool, code: err.code }, `${tool} failed: ${err.message}`);
    return { content: [{ type: "text", text: `${tool} failed (${err.code}): ${err.message}` }], isError: true };
  }
  // A cancelled call: the caller is gone, but the server still answers rather than throwing.
  const aborted = err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
  if (!aborted) log.error({ err, tool }, `${tool} failed unexpectedly`);
  return {
    content: [
      {
        type: "text",
        text: `${tool} failed: ${aborted ? "the call was cancelled" : "an unexpected error in the knowledge server; try again later"}`,
      },
    ],
    isError: true,
  };
}
