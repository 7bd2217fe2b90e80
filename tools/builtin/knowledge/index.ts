/**
 * `knowledge`: Wikipedia, arXiv and Wolfram|Alpha as MCP tools (`wikipedia_search`,
 * `wikipedia_page`, `arxiv_search`, `wolfram_query`). Needs outbound HTTPS; `wolfram_query` needs
 * an LLM API app id in WOLFRAM_APP_ID. Results are marked cacheable (public, `cache_ttl_s`): the
 * tool host's result cache keeps them in JetStream KV, shared by replicas.
 */
import type { BuiltinContext, StartedBuiltin } from "../index.ts";
import type { HttpContext } from "./http.ts";
import { createLimiter } from "./limiter.ts";
import { parseKnowledgeOptions, userAgent } from "./options.ts";
import { knowledgeServer } from "./server.ts";

export { KNOWLEDGE_DEFAULTS } from "./options.ts";

export function startKnowledge(ctx: BuiltinContext): StartedBuiltin {
  const options = parseKnowledgeOptions(ctx.server, ctx.options);
  const ua = userAgent(options);
  // One limiter per service for the whole server: every request of every caller shares it.
  const http = (service: string, intervalMs: number): HttpContext => ({
    service,
    limiter: createLimiter(intervalMs),
    timeoutMs: options.timeout_ms,
    userAgent: ua,
  });
  const parts = {
    options,
    http: {
      wikipedia: http("Wikipedia", options.wikipedia_interval_ms),
      arxiv: http("arXiv", options.arxiv_interval_ms),
      wolfram: http("Wolfram|Alpha", options.wolfram_interval_ms),
    },
    env: ctx.env,
    log: ctx.log,
  };
  if (options.cache_bucket !== undefined)
    ctx.log.warn(
      `tools.servers.${ctx.server}.options.cache_bucket is deprecated and ignored: the tool host caches every server's ` +
        `results in tools.cache.bucket (default LYRA_TOOL_CACHE); move the name there and remove it here`,
    );
  if (!ctx.env[options.wolfram_app_id_env])
    ctx.log.warn(`${options.wolfram_app_id_env} is not set: wolfram_query will answer with an error until it is`);
  return { create: () => knowledgeServer(parts) };
}
