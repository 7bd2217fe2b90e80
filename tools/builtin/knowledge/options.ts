/**
 * `tools.servers.<name>.options` of the knowledge server, checked at start. Unknown keys are
 * refused (a typo would otherwise silently keep a default). Secrets are not options: the Wolfram
 * app id comes from the environment variable named by `wolfram_app_id_env`.
 */
import { z } from "zod";
import { parseServerOptions, quoteKeys, type OptionWording } from "../options.ts";

export const KNOWLEDGE_DEFAULTS = {
  wikipedia_url: "https://en.wikipedia.org/w/api.php",
  arxiv_url: "https://export.arxiv.org/api/query",
  wolfram_url: "https://www.wolframalpha.com/api/v1/llm-api",
  wolfram_app_id_env: "WOLFRAM_APP_ID",
  timeout_ms: 15_000,
  /** Wikimedia asks API clients to make requests in series; a small gap keeps a burst polite. */
  wikipedia_interval_ms: 100,
  /** arXiv's terms of use: no more than one request every three seconds. */
  arxiv_interval_ms: 3_000,
  wolfram_interval_ms: 0,
  /** How long a result is marked fresh (`ttlMs`); 0: results are not marked, so never cached. */
  cache_ttl_s: 3_600,
  user_agent: "lyra-mesh-knowledge/0.1",
} as const;

const url = z.url({ protocol: /^https?$/ });
const ms = z.number().int().min(0).max(600_000);

const Options = z.strictObject({
  wikipedia_url: url.default(KNOWLEDGE_DEFAULTS.wikipedia_url),
  arxiv_url: url.default(KNOWLEDGE_DEFAULTS.arxiv_url),
  wolfram_url: url.default(KNOWLEDGE_DEFAULTS.wolfram_url),
  wolfram_app_id_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default(KNOWLEDGE_DEFAULTS.wolfram_app_id_env),
  timeout_ms: z.number().int().min(100).max(120_000).default(KNOWLEDGE_DEFAULTS.timeout_ms),
  wikipedia_interval_ms: ms.default(KNOWLEDGE_DEFAULTS.wikipedia_interval_ms),
  arxiv_interval_ms: ms.default(KNOWLEDGE_DEFAULTS.arxiv_interval_ms),
  wolfram_interval_ms: ms.default(KNOWLEDGE_DEFAULTS.wolfram_interval_ms),
  cache_ttl_s: z
    .number()
    .min(0)
    .max(30 * 86_400)
    .default(KNOWLEDGE_DEFAULTS.cache_ttl_s),
  /** Deprecated, ignored (a warning at start): the tool host's `tools.cache.bucket` holds every server's results. */
  cache_bucket: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
  user_agent: z.string().min(1).max(200).default(KNOWLEDGE_DEFAULTS.user_agent),
  /** An email or URL appended to the User-Agent, as Wikimedia's policy asks. */
  contact: z.string().min(3).max(200).optional(),
});
export type KnowledgeOptions = z.output<typeof Options>;

export function parseKnowledgeOptions(server: string, options: Readonly<Record<string, unknown>>): KnowledgeOptions {
  return parseServerOptions(Options, server, options, knowledgeWording);
}

/** The option's full path; unknown keys are answered with the list of known ones. */
const knowledgeWording: OptionWording = (p) => {
  const path = [p.where, ...p.path.map(String)].join(".");
  if (p.unknownKeys)
    return `${path} has unknown keys ${quoteKeys(p.unknownKeys)}; use only: ${Object.keys(KNOWLEDGE_DEFAULTS).join(", ")}, contact`;
  return `${path} is ${JSON.stringify(p.value)}: ${p.message}; fix it or remove it for the default`;
};

/** Wikimedia's User-Agent policy form: `name/version (contact) library/version`. */
export function userAgent(o: KnowledgeOptions): string {
  return (
    `${o.user_agent} (${o.contact ?? "Lyra mesh knowledge tool server; set tools.servers.<s>.options.contact"}) ` +
    `node/${process.versions.node}`
  );
}
