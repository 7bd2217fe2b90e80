/**
 * `knowledge`: Wikipedia, arXiv and Wolfram|Alpha as MCP tools (`wikipedia_search`,
 * `wikipedia_page`, `arxiv_search`, `wolfram_query`). Needs outbound HTTPS; `wolfram_query` needs
 * an LLM API app id in WOLFRAM_APP_ID. Results are cached in JetStream KV, shared by replicas.
 */
import type { BuiltinContext, StartedBuiltin } from "../index.ts";
import { createKvCache, noCache } from "./cache.ts";
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
    cache:
      options.cache_ttl_s > 0
        ? createKvCache(ctx.mesh.nc, { bucket: options.cache_bucket, ttlMs: options.cache_ttl_s * 1000, log: ctx.log })
        : noCache,
    env: ctx.env,
    log: ctx.log,
  };
  if (!ctx.env[options.wolfram_app_id_env])
    ctx.log.warn(`${options.wolfram_app_id_env} is not set: wolfram_query will answer with an error until it is`);
  return { create: () => knowledgeServer(parts) };
}
