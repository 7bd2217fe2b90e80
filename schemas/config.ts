/**
 * The mesh configuration file (YAML): which roles exist, which model serves each, where they run.
 * Objects are strict so a typo is refused rather than silently ignored; every refusal names the
 * file, the field, the value and the fix.
 */
import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { z } from "zod";
import { RoleName } from "./envelope.ts";
import { SchemaError } from "./errors.ts";

/** What a role does in the committee. */
export const RoleKind = { Router: "router", Specialist: "specialist", Voice: "voice" } as const;
export type RoleKind = (typeof RoleKind)[keyof typeof RoleKind];

export const DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434";
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
export const DEFAULT_LITELLM_KEY_ENV = "LITELLM_API_KEY";
/** The tool plane's result cache (`tools.cache`): its JetStream KV bucket and the longest TTL it keeps. */
export const TOOL_CACHE_DEFAULTS = { bucket: "LYRA_TOOL_CACHE", max_ttl_s: 86_400 } as const;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
/** A duration: a number of ms or a string such as "90s", "24h", "7d". Parsed to ms. */
const Duration = z
  .union([z.number().int().nonnegative(), z.string().regex(DURATION_RE)])
  .transform((v) => (typeof v === "number" ? v : durationMs(v)));
function durationMs(s: string): number {
  const [, n, unit] = DURATION_RE.exec(s) ?? [];
  return Math.round(Number(n) * (UNIT_MS[unit ?? "ms"] ?? 1));
}

const UNIT_BYTES: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/;
/** A size: a number of bytes or a string such as "512MiB", "1GiB". Parsed to bytes. */
const Size = z.union([z.number().int().positive(), z.string().regex(SIZE_RE)]).transform((v) => {
  if (typeof v === "number") return v;
  const [, n, unit] = SIZE_RE.exec(v) ?? [];
  return Math.round(Number(n) * (UNIT_BYTES[unit ?? "B"] ?? 1));
});

/** Ollama keep_alive: seconds (-1 forever, 0 unload at once) or a Go duration such as "30m". */
const KeepAlive = z.union([z.number().int().min(-1), z.string().regex(/^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/)]);

/** Accepts what OLLAMA_HOST accepts ("host", "host:port", a URL) and returns a full URL. */
export function normalizeOllamaUrl(v: string): string {
  const withScheme = v.includes("://") ? v : `http://${v}`;
  const url = new URL(withScheme);
  if (!url.port && !v.includes("://")) url.port = "11434";
  return url.toString().replace(/\/$/, "");
}
const OllamaUrl = z
  .string()
  .refine((v) => URL.canParse(v.includes("://") ? v : `http://${v}`), "is not a URL")
  .transform(normalizeOllamaUrl);

const Token = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/);
const EnvName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/);

/** The model LiteLLM calls for an alias: `model` in LiteLLM's `provider/model` form, its key's variable, an optional base URL. */
const LiteLLMUpstream = z.strictObject({
  model: z.string().min(1),
  api_key_env: EnvName.optional(),
  api_base: z.url().optional(),
});

/** The LiteLLM proxy's router_settings that `lyra litellm-config` writes (LiteLLM's own names and meanings). */
export const LiteLLMRouterConfig = z.strictObject({
  /** Retries of a failed call, on the same alias (another of its upstreams when it has several); default 2. */
  num_retries: z.number().int().min(0).max(10).default(2),
  /** Failures of one upstream within a minute before it is cooled down; default 3. */
  allowed_fails: z.number().int().min(0).max(1000).default(3),
  /** How long a cooled-down upstream gets no calls; default 30 s (written in seconds). */
  cooldown_time: Duration.default(30_000),
  /** How the proxy picks among an alias's upstreams; default simple-shuffle. */
  routing_strategy: z.enum(["simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2"]).default("simple-shuffle"),
});
export type LiteLLMRouterConfig = z.output<typeof LiteLLMRouterConfig>;

/** One rule of the scripted (development) backend. First match wins; no `match` = default. */
export const ScriptRule = z
  .strictObject({
    /** Regex tested against the last user message, case-insensitive. */
    match: z.string().refine(isRegex, "is not a valid regular expression").optional(),
    /** Reply template; `{input}` is the last user message, `{tool_result}` the last tool output. */
    reply: z.string().optional(),
    /** Structured answer, sent when the request asks for a format (the router). */
    json: z.record(z.string(), z.unknown()).optional(),
    /** A tool call to make first; once its result is back, the rule replies. */
    tool_call: z.strictObject({ name: z.string().min(1), arguments: z.record(z.string(), z.unknown()).default({}) }).optional(),
    /** Delay per streamed word, ms; default 0. */
    delay_ms: z.number().int().nonnegative().max(60_000).optional(),
  })
  .refine((r) => r.reply !== undefined || r.json !== undefined || r.tool_call !== undefined, {
    message: "has nothing to answer with; give it a reply, json or tool_call",
    params: { complete: true },
  });
export type ScriptRule = z.output<typeof ScriptRule>;
function isRegex(s: string): boolean {
  try {
    new RegExp(s, "i");
    return true;
  } catch {
    return false;
  }
}

/** A tool server's name: lowercase letters, digits and '-' (no '_': `server__tool` names must split). */
export const ToolServerName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "tool server names use lowercase letters, digits and '-' (1-32 chars)");
export const ToolGrant = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}\.(\*|[A-Za-z0-9_-]{1,128})$/, "a tool grant is 'server.tool' or 'server.*'");

const EnvMap = z.record(z.string(), z.string());
/** One tool server `lyra tools` hosts: a built-in, a stdio MCP server, or a Streamable HTTP one. */
export const ToolServerConfig = z.union([
  z.strictObject({
    builtin: z.string().min(1),
    description: z.string().optional(),
    /** The built-in's own settings (its README entry lists them); it checks them at start. */
    options: z.record(z.string(), z.unknown()).optional(),
  }),
  z.strictObject({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    /** `${VAR}` is expanded from the environment of `lyra tools`, so secrets stay out of the file. */
    env: EnvMap.default({}),
    cwd: z.string().min(1).optional(),
    description: z.string().optional(),
  }),
  z.strictObject({ url: z.url(), headers: EnvMap.default({}), description: z.string().optional() }),
]);
export type ToolServerConfig = z.output<typeof ToolServerConfig>;

/**
 * A router's classifier: labelled example messages per specialist, embedded by the host's Ollama
 * at start. When its confidence clears `threshold` it picks the specialist alone; else the LLM
 * router decides.
 */
export const RouterClassifierConfig = z.strictObject({
  /** Ollama embedding model on the router's host (all-minilm, nomic-embed-text). */
  embed_model: z.string().min(1),
  /** Least confidence (0..1) at which the classifier decides without the LLM router. */
  threshold: z.number().min(0).max(1),
  /** Score each specialist by the mean similarity of its k nearest examples; default: nearest centroid. */
  k: z.number().int().min(1).max(100).optional(),
  /** Time one embedding may take, ms; past it the LLM router decides. Default 5000. */
  embed_timeout_ms: z.number().int().positive().default(5000),
  /** Example messages per specialist (role names of kind specialist; two at least). */
  examples: z.record(z.string(), z.array(z.string().min(1).max(2000)).min(1).max(1000)),
});
export type RouterClassifierConfig = z.output<typeof RouterClassifierConfig>;

/** Longest time a cached answer may be kept: 30 days. */
export const RESPONSE_CACHE_MAX_TTL_S = 30 * 86_400;

/**
 * A role's response cache (opt-in), in the mesh's JetStream KV bucket. An answer is kept for one
 * user (the request's `user`) unless `public`; a call without a user is not cached on a private role.
 */
export const ResponseCacheConfig = z.strictObject({
  /** Answer from the cache a call with the same role, model, options, messages (history included), tools and format; default true. */
  exact: z.boolean().default(true),
  /**
   * Also answer a call whose last user message means the same as a cached call's (cosine similarity of
   * their embeddings at least `threshold`), all else (the history before it included) being the same.
   */
  semantic: z
    .strictObject({
      /** Ollama embedding model on the role's host; default all-minilm. */
      embed_model: z.string().min(1).default("all-minilm"),
      /** Least cosine similarity (0..1) of the two messages; default 0.9. */
      threshold: z.number().min(0).max(1).default(0.9),
      /** Time one embedding may take, ms; past it the call goes to the model. Default 5000. */
      embed_timeout_ms: z.number().int().positive().default(5000),
    })
    .optional(),
  /** How long an answer is kept, s; default 3600. */
  ttl_s: z.number().int().min(1).max(RESPONSE_CACHE_MAX_TTL_S).default(3600),
  /** The role's answers are the same for everyone: shared by all users (and calls without one); default false. */
  public: z.boolean().default(false),
});
export type ResponseCacheConfig = z.output<typeof ResponseCacheConfig>;

/** A variant's name: lowercase letters, digits, '_' and '-'. */
export const VariantName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "variant names use lowercase letters, digits, '_' and '-' (1-63 chars)");

/**
 * One variant of a role for a rollout or an A/B test (docs/operations.md "Rollout and A/B"): what it
 * changes of the role, and its weight. An answering variant's weight is its share of the role's
 * conversations, in percent (the answering variants' weights add up to 100); a shadow variant
 * never answers the user: its weight is the percent of conversations it also answers in the
 * background, to be compared (`lyra compare`). `lyra rollout` changes weights without a restart.
 */
export const RoleVariant = z.strictObject({
  name: VariantName,
  weight: z.number().min(0).max(100),
  /** The model instead of the role's (a LiteLLM alias with backend openai). */
  model: z.string().min(1).optional(),
  /** The system prompt instead of the role's system_prompt. */
  system: z.string().optional(),
  backend: z.enum(["ollama", "openai", "scripted"]).optional(),
  /** Answers in the background only, logged as shadow_answer; default false. */
  shadow: z.boolean().default(false),
});
export type RoleVariant = z.output<typeof RoleVariant>;

export const RoleConfig = z.strictObject({
  model: z.string().min(1),
  backend: z.enum(["ollama", "openai", "scripted"]).default("ollama"),
  kind: z.enum(RoleKind).default(RoleKind.Specialist),
  description: z.string().optional(),
  system_prompt: z.string().optional(),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().optional(),
  /** Ollama context length, sent with every call: a different one per call would reload the model. */
  num_ctx: z.number().int().min(256).max(1_048_576).default(4096),
  /** Ollama keep_alive, sent with every call and the warm-up, so the model stays loaded. */
  keep_alive: KeepAlive.default("30m"),
  /**
   * How tools reach an Ollama model: `native` (Ollama `tools`), `constrained` (a JSON-schema
   * `format` naming one tool or an answer, for templates without tools), or `auto` (asks the
   * model's capabilities once).
   */
  tool_mode: z.enum(["auto", "native", "constrained"]).default("auto"),
  slots: z.number().int().min(1).max(256).default(1),
  queue: z.number().int().min(0).max(10_000).default(4),
  /** Tool grants: `server.tool` or `server.*` patterns over the `tools.servers` of this file. */
  tools: z.array(ToolGrant).default([]),
  /** Model → tool calls → results rounds per answer. */
  max_tool_steps: z.number().int().min(1).max(64).default(6),
  /** Time one tool call may take before its result is an error the model reads. */
  tool_timeout_ms: z.number().int().positive().default(30_000),
  fallback: z.string().min(1).optional(),
  first_token_timeout_ms: z.number().int().positive().default(20_000),
  script: z.array(ScriptRule).min(1).optional(),
  /**
   * The model takes images: the role advertises attachments_ok and passes request attachments to
   * it (NATS Agent Protocol §2.1); default false, and then attachments are refused with 400.
   */
  vision: z.boolean().default(false),
  /** Router only: the embedding classifier tried before the LLM router (RouterClassifierConfig). */
  classifier: RouterClassifierConfig.optional(),
  /** The response cache (ResponseCacheConfig); default none. */
  cache: ResponseCacheConfig.optional(),
  /** Weighted variants (RoleVariant); each conversation keeps one. Default none: the role as configured. */
  variants: z.array(RoleVariant).min(1).max(16).optional(),
});
export type RoleConfig = z.output<typeof RoleConfig>;

export const HostConfig = z.strictObject({
  ollama_url: OllamaUrl.default(DEFAULT_OLLAMA_URL),
  roles: z.array(z.string()).min(1),
  /** Load each role's model at start (false: serve at once, the first call pays the load). */
  preload: z.boolean().default(true),
  /** The host's region, advertised in its capacity state; default mesh.region. */
  region: Token.optional(),
  /**
   * The host reaches the mesh through a leaf node on its own machine (a GPU box that can only dial
   * out, infra/nats/leaf.conf): `lyra auth` also writes the user that leaf node signs in as, leaf-<host>.
   */
  leaf: z.boolean().default(false),
  /** For `lyra compose`: the GPUs (NVIDIA indexes or UUIDs) of this host's Ollama container; none: Ollama on the CPU. */
  gpus: z
    .array(z.union([z.number().int().min(0), z.string().regex(/^[A-Za-z0-9-]+$/, "is not a GPU index or UUID")]))
    .min(1)
    .optional(),
});
export type HostConfig = z.output<typeof HostConfig>;

const Servers = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (typeof v === "string" ? v.split(",") : v).map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string()).min(1));

/** `lyra serve`: the OpenAI-compatible endpoint. Its API keys come from the environment only. */
export const ServeConfig = z.strictObject({
  /** Address to listen on; default 127.0.0.1 (this machine only). */
  listen: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65_535).default(8080),
  /** The NAME of the environment variable with the API keys, comma-separated (never the keys). */
  keys_env: EnvName.default("LYRA_SERVE_KEYS"),
  /**
   * A file with the API keys (one a line, or an env file assigning keys_env), re-read on SIGHUP:
   * how keys rotate without a restart. When set, keys_env's variable is not read. Default none.
   */
  keys_file: z.string().min(1).optional(),
  /** How long a key gone from the keys at a reload keeps working, s; default 3600. */
  key_grace_s: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(3600),
  /** Time a request waits for its reply before a 503; default 180 s. */
  timeout: Duration.default(180_000),
  /** Largest request body; default 1 MiB. */
  max_body: Size.default(1024 ** 2),
  /** Requests per minute per key (token bucket holding `burst`); 0 turns the limit off. */
  rate_limit: z.strictObject({ rpm: z.number().int().min(0).default(60), burst: z.number().int().min(1).default(10) }).prefault({}),
  /** Time in-flight requests get to finish on SIGTERM; default 10 s. */
  grace: Duration.default(10_000),
  /** Time a client has to send a request's headers (slowloris), then 408 and closed; default 10 s. */
  header_timeout: Duration.default(10_000),
  /** Time a client has to send the whole request, headers and body, then 408 and closed; default 30 s. */
  body_timeout: Duration.default(30_000),
  /** Time a keep-alive connection may sit idle between requests; default 5 s. */
  idle_timeout: Duration.default(5_000),
  /** Open connections at most; past it a new connection is closed at once; default 1024. */
  max_connections: z.number().int().min(1).default(1024),
  /**
   * Tenant name -> key ids ('k' + 12 hex digits of the key's SHA-256, in the start log): the keys
   * of a tenant share its conversations. A key not listed is a tenant of its own. Default none.
   */
  tenants: z.record(z.string(), z.array(z.string()).min(1)).default({}),
});
export type ServeConfig = z.output<typeof ServeConfig>;

const Snowflake = z.string().regex(/^[0-9]{1,20}$/, "is not a Discord id (digits)");

/** The Discord front door (`lyra discord`); the bot token comes from $DISCORD_TOKEN, never from here. */
export const DiscordConfig = z.strictObject({
  /** Channels (or threads) answered without a mention; mentions and DMs are always answered. */
  channels: z.array(Snowflake).max(1000).default([]),
  /** Answer direct messages; default true. */
  dms: z.boolean().default(true),
  /** What one conversation is: "channel" (a channel, a thread or a DM each; default) or "user" (each user apart in every channel). */
  conversation: z.enum(["channel", "user"]).default("channel"),
  /** Messages one user may send per window; default 5 per 60 s. */
  user_rate: z
    .strictObject({ messages: z.number().int().min(1).max(10_000).default(5), window_s: z.number().int().min(1).max(86_400).default(60) })
    .prefault({}),
  /** Turns waiting for a reply at once in one channel; default 2. */
  channel_concurrency: z.number().int().min(1).max(100).default(2),
  /** Least time between two edits of one streamed message, ms; default 1000 (Discord allows about one a second). */
  edit_interval_ms: z.number().int().min(250).max(60_000).default(1000),
  /** Largest image accepted from a user, bytes; default 8 MiB. */
  max_image_bytes: Size.default(8 * 1024 ** 2),
  /** Durable consumer of the outbox; one per bot. */
  durable: Token.default("discord"),
  /** Guild to register the slash commands in (instant); without it they are global (may take an hour to show). */
  guild: Snowflake.optional(),
  /** Port of /metrics; default metrics.port + 3 (0 picks a free port). */
  metrics_port: z.number().int().min(0).max(65_535).optional(),
  /** The tool server whose `speak` tool voices replies in joined voice channels; default "speech". */
  speech_server: ToolServerName.default("speech"),
});
export type DiscordConfig = z.output<typeof DiscordConfig>;

/** A model's price, USD per million tokens: prompt tokens in, completion tokens out. */
export const ModelPrice = z.strictObject({ input: z.number().min(0), output: z.number().min(0) });
export type ModelPrice = z.output<typeof ModelPrice>;

/** A user's daily allowance (per UTC day); either limit may be left out, none: no limit. */
export const DailyBudget = z.strictObject({
  /** Tokens in and out together. */
  tokens: z.number().int().min(0).optional(),
  /** Cost in USD, from usage.prices (tokens of a model without a price count nothing here). */
  usd: z.number().min(0).optional(),
});
export type DailyBudget = z.output<typeof DailyBudget>;

/** Usage, cost and budgets (docs/usage.md). */
export const UsageConfig = z.strictObject({
  /** Prices keyed by the model name the log shows (`lyra log`); a model without one has its cost shown as unknown. */
  prices: z.record(z.string().min(1), ModelPrice).default({}),
  /** Per-user daily budgets, checked when a message enters the inbox; absent: none. */
  budgets: z
    .strictObject({
      /** Every user's budget; absent: users not listed have none. */
      default: DailyBudget.optional(),
      /** Budgets by user id (the inbox message's user.id); one here replaces the default. */
      users: z.record(z.string().min(1).max(256), DailyBudget).default({}),
      /** The JetStream KV bucket of the per-day totals; default LYRA_USAGE. */
      bucket: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/)
        .default("LYRA_USAGE"),
    })
    .optional(),
});
export type UsageConfig = z.output<typeof UsageConfig>;

/** Sections without a default must be written; jetstream, conductor and nats fill in defaults. */
const MeshConfigShape = z.strictObject({
  mesh: z.strictObject({
    name: Token,
    owner: Token,
    /** Region of the processes started with this file (env LYRA_REGION): role calls prefer replicas there. Default none. */
    region: Token.optional(),
  }),
  nats: z
    .strictObject({
      servers: Servers.default([DEFAULT_NATS_URL]),
      creds_file: z.string().min(1).optional(),
      /** File holding this process's nkey seed (SU...), as `lyra auth` writes it; env NATS_NKEY_FILE. */
      nkey_file: z.string().min(1).optional(),
      tls: z.strictObject({ ca_file: z.string().optional(), cert_file: z.string().optional(), key_file: z.string().optional() }).optional(),
      inbox_prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
        .optional(),
      encoding: z.enum(["msgpack", "json"]).default("msgpack"),
    })
    .prefault({}),
  roles: z.record(z.string(), RoleConfig),
  router: z.strictObject({ default_specialist: z.string().min(1) }).optional(),
  hosts: z.record(z.string(), HostConfig),
  litellm: z
    .strictObject({
      base_url: z.url(),
      api_key_env: EnvName.default(DEFAULT_LITELLM_KEY_ENV),
      /**
       * A file with the key (the key alone, or an env file assigning api_key_env), read again when it
       * changes: how the key rotates without a restart. When set, api_key_env's variable is not read.
       */
      api_key_file: z.string().min(1).optional(),
      /**
       * For `lyra litellm-config`: the upstream model behind each alias (LiteLLM's `provider/model`),
       * keyed by alias; `default` serves every alias not listed. Unused by the mesh itself.
       */
      models: z.record(z.string().min(1), z.union([LiteLLMUpstream, z.array(LiteLLMUpstream).min(1).max(16)])).optional(),
      /** For `lyra litellm-config`: retries and the cooldown of failing upstreams (router_settings). */
      router: LiteLLMRouterConfig.optional(),
    })
    .optional(),
  jetstream: z
    .strictObject({
      replicas: z.number().int().min(1).max(5).default(1),
      storage: z.enum(["file", "memory"]).default("file"),
      inbox_max_age: Duration.default(24 * 3.6e6),
      outbox_max_age: Duration.default(7 * 8.64e7),
      log_max_age: Duration.default(30 * 8.64e7),
      log_max_bytes: Size.default(1024 ** 3),
      duplicate_window: Duration.default(2 * 3.6e6),
    })
    .prefault({}),
  conductor: z
    .strictObject({
      history_turns: z.number().int().min(0).max(1000).default(10),
      history_bytes: z.number().int().min(0).default(16_384),
      max_parallel: z.number().int().min(1).max(1024).default(8),
      max_deliver: z.number().int().min(1).max(100).default(5),
      ack_wait_ms: z.number().int().min(1000).default(60_000),
      /** Time one role call of a turn (route, specialist, voice) may take, ms; default 120000. */
      step_timeout_ms: z.number().int().min(1000).max(3_600_000).default(120_000),
      /**
       * Store the log events of a step together as one atomic batch (nats-server 2.12+); default
       * false: on file-backed streams nats-server 2.15 spends far more per batch than per message.
       */
      atomic_log: z.boolean().default(false),
      /** Pipelined voice: the voice rewrites the specialist's draft piece by piece as it streams; default true. */
      pipeline: z.boolean().default(true),
      /** Sentences that close a segment (the first: one; a paragraph break closes one sooner); 0: paragraphs only; default 2. */
      segment_sentences: z.number().int().min(0).max(100).default(2),
      /** The least characters of a segment (the first: half), so the voice's calls are not tiny; default 80. */
      segment_min_chars: z.number().int().min(1).max(100_000).default(80),
      /** Shadow variants' calls running at once (roles.<r>.variants with shadow); past it a shadow answer is skipped; default 4. */
      shadow_concurrency: z.number().int().min(0).max(256).default(4),
    })
    .prefault({}),
  /** Long-term memory: the `memory` built-in tool server (tools.servers.<server>). */
  memory: z
    .strictObject({
      /**
       * Before a specialist granted `<server>.recall` answers, its agent recalls the memories most
       * relevant to the user's message into its context; the recall is a tool step in the log. Default false.
       */
      auto_recall: z.boolean().default(false),
      /** Memories recalled; default 3. */
      top_k: z.number().int().min(1).max(20).default(3),
      /** The tool server that holds the memories; default "memory". */
      server: ToolServerName.default("memory"),
    })
    .optional(),
  metrics: z.strictObject({ port: z.number().int().min(0).max(65_535).default(9464) }).optional(),
  /** Tracing: the W3C traceparent always travels; OTLP export of spans is off unless `otlp` is set. */
  telemetry: z
    .strictObject({
      otlp: z
        .strictObject({
          /** OTLP/HTTP base URL, such as http://otel-collector:4318 (spans go to <endpoint>/v1/traces). */
          endpoint: z.url(),
          /** Request headers; `${VAR}` is expanded from the environment, so keys stay out of the file. */
          headers: EnvMap.default({}),
          /** Prefix of each process's `service.name` (lyra-core, lyra-agent...); default "lyra". */
          service_prefix: Token.default("lyra"),
        })
        .optional(),
    })
    .optional(),
  /** Prices per model and per-user daily budgets (docs/usage.md). */
  usage: UsageConfig.prefault({}),
  /** `lyra serve`, the OpenAI-compatible endpoint; `lyra up` starts it when this section is present. */
  serve: ServeConfig.optional(),
  /** The Discord front door; `lyra up` starts it when this is set and $DISCORD_TOKEN is too. */
  discord: DiscordConfig.optional(),
  tools: z
    .strictObject({
      servers: z.record(ToolServerName, ToolServerConfig).default({}),
      /** How long a server's tools/list result is reused, s. */
      list_ttl_s: z.number().int().min(0).default(60),
      /** The tool host caches the tools/call results its servers mark cacheable (`ttlMs`, `cacheScope`). */
      cache: z
        .strictObject({
          enabled: z.boolean().default(true),
          bucket: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,64}$/)
            .default(TOOL_CACHE_DEFAULTS.bucket),
          /** A result marked to live longer is not cached (and logged): also the bucket's max age. */
          max_ttl_s: z
            .number()
            .int()
            .min(1)
            .max(30 * 86_400)
            .default(TOOL_CACHE_DEFAULTS.max_ttl_s),
        })
        .prefault({}),
    })
    .prefault({}),
});
export const MeshConfig = MeshConfigShape.superRefine(crossCheck);
export type MeshConfig = z.output<typeof MeshConfig>;

/** Rules that span fields: names, references between sections, required companions. */
function crossCheck(cfg: z.output<typeof MeshConfigShape>, ctx: z.RefinementCtx): void {
  // `complete`: the message already says what to change, so it is printed as it is.
  const add = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message, params: { complete: true } });
  const roleNames = Object.keys(cfg.roles);
  if (roleNames.length === 0) add(["roles"], "is empty; define at least one role, e.g. roles.voice with a model");
  if (Object.keys(cfg.hosts).length === 0) add(["hosts"], "is empty; define at least one host, e.g. hosts.local with roles: [voice]");
  for (const [name, role] of Object.entries(cfg.roles)) {
    const ok = RoleName.safeParse(name);
    if (!ok.success)
      add(
        ["roles", name],
        `is not a usable role name (${ok.error.issues[0]?.message}); ` +
          `rename it with lowercase letters, digits and '-', not inbox, outbox, log or cancel`,
      );
    if (role.fallback !== undefined && !cfg.litellm)
      add(
        ["roles", name, "fallback"],
        `is '${role.fallback}' but there is no litellm section; add litellm.base_url or remove the fallback`,
      );
    if (role.backend === "openai" && !cfg.litellm)
      add(["roles", name, "backend"], "is 'openai' but there is no litellm section; add litellm.base_url");
    if (role.backend === "scripted" && !role.script)
      add(["roles", name, "script"], "is missing but backend is 'scripted'; add script rules (see config/mesh.dev.yaml)");
    role.tools.forEach((g, i) => {
      const server = g.split(".")[0]!;
      if (!cfg.tools.servers[server]) {
        add(
          ["roles", name, "tools", i],
          `grants '${g}' but no tool server '${server}' is defined; ` +
            `add tools.servers.${server} or remove the grant (defined: ${Object.keys(cfg.tools.servers).join(", ") || "none"})`,
        );
      }
    });
  }
  for (const [name, role] of Object.entries(cfg.roles)) if (role.classifier) checkClassifier(cfg, name, role, add);
  for (const [name, role] of Object.entries(cfg.roles)) if (role.variants) checkVariants(cfg, name, role, add);
  for (const [host, h] of Object.entries(cfg.hosts)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(host)) add(["hosts", host], "is not a usable host name; use letters, digits, '_' and '-'");
    h.roles.forEach((r, i) => {
      if (!cfg.roles[r])
        add(
          ["hosts", host, "roles", i],
          `is '${r}', which is not defined under roles; define roles.${r} or remove it from this host (defined: ${roleNames.join(", ")})`,
        );
    });
  }
  checkTenants(cfg.serve?.tenants ?? {}, add);
  if (cfg.serve && cfg.serve.header_timeout > cfg.serve.body_timeout)
    add(
      ["serve", "header_timeout"],
      `is ${cfg.serve.header_timeout} ms, longer than serve.body_timeout (${cfg.serve.body_timeout} ms), ` +
        `which covers the headers too; make header_timeout the shorter`,
    );
  const d = cfg.router?.default_specialist;
  if (d !== undefined && cfg.roles[d]?.kind !== RoleKind.Specialist) {
    const specialists = roleNames.filter((r) => cfg.roles[r]?.kind === RoleKind.Specialist);
    add(
      ["router", "default_specialist"],
      `is '${d}', which is not a role of kind specialist; set it to one of: ${specialists.join(", ") || "(none defined)"}`,
    );
  }
}

/** A classifier sits on a router and names specialists, each with at least k examples. */
function checkClassifier(
  cfg: z.output<typeof MeshConfigShape>,
  name: string,
  role: z.output<typeof RoleConfig>,
  add: (path: (string | number)[], message: string) => void,
): void {
  const at = ["roles", name, "classifier"];
  if (role.kind !== RoleKind.Router)
    add(at, `is set on a role of kind '${role.kind}'; only a router has a classifier: move it to the role of kind router`);
  const specialists = Object.keys(cfg.roles).filter((r) => cfg.roles[r]?.kind === RoleKind.Specialist);
  const examples = role.classifier!.examples;
  const named = Object.keys(examples);
  if (named.length < 2)
    add(
      [...at, "examples"],
      `names ${named.length} specialist(s); give examples for two at least (specialists: ${specialists.join(", ")})`,
    );
  for (const s of named) {
    if (cfg.roles[s]?.kind !== RoleKind.Specialist)
      add([...at, "examples", s], `is not a role of kind specialist; use one of: ${specialists.join(", ") || "(none defined)"}`);
    const k = role.classifier!.k;
    if (k !== undefined && examples[s]!.length < k)
      add([...at, "examples", s], `has ${examples[s]!.length} example(s), fewer than k (${k}); add examples or lower classifier.k`);
  }
}

/** Variants: names once each, weights that add up, backends the config can serve. */
function checkVariants(
  cfg: z.output<typeof MeshConfigShape>,
  name: string,
  role: z.output<typeof RoleConfig>,
  add: (path: (string | number)[], message: string) => void,
): void {
  const at = ["roles", name, "variants"];
  const variants = role.variants!;
  const problem = weightProblem(variants, Object.fromEntries(variants.map((v) => [v.name, v.weight])));
  if (problem) add(at, problem);
  variants.forEach((v, i) => {
    if (variants.findIndex((w) => w.name === v.name) !== i) add([...at, i, "name"], `is '${v.name}' again; give each variant its own name`);
    const backend = v.backend ?? role.backend;
    if (backend === "openai" && !cfg.litellm)
      add([...at, i, "backend"], "is 'openai' but there is no litellm section; add litellm.base_url");
    if (backend === "scripted" && !role.script)
      add([...at, i, "backend"], `is 'scripted' but roles.${name} has no script; add script rules to the role`);
  });
}

/** Tolerance of the answering weights' sum (100), for weights such as 33.3. */
const WEIGHT_SUM_EPSILON = 0.01;

/**
 * Why a role's variant weights (name → percent) cannot be used, or undefined when they can: every
 * variant named and known, each 0-100, the answering ones adding up to 100. Used by the config
 * check, the conductor reading the rollout bucket and `lyra rollout`.
 */
export function weightProblem(
  variants: readonly Pick<RoleVariant, "name" | "shadow">[],
  weights: Record<string, number>,
): string | undefined {
  const known = variants.map((v) => v.name);
  const unknown = Object.keys(weights).filter((n) => !known.includes(n));
  if (unknown.length) return `names unknown variant(s) ${unknown.join(", ")}; the role's variants are ${known.join(", ")}`;
  const missing = known.filter((n) => weights[n] === undefined);
  if (missing.length) return `has no weight for ${missing.join(", ")}; give every variant a weight`;
  const bad = Object.entries(weights).filter(([, w]) => !Number.isFinite(w) || w < 0 || w > 100);
  if (bad.length) return `has weight(s) out of 0-100: ${bad.map(([n, w]) => `${n}=${w}`).join(", ")}`;
  const answering = variants.filter((v) => !v.shadow);
  if (!answering.length) return "has only shadow variants; at least one variant must answer (shadow: false)";
  const sum = answering.reduce((s, v) => s + weights[v.name]!, 0);
  if (Math.abs(sum - 100) > WEIGHT_SUM_EPSILON)
    return (
      `has answering weights that add up to ${Math.round(sum * 100) / 100}, not 100 ` +
      `(${answering.map((v) => `${v.name}=${weights[v.name]}`).join(", ")}); shadow weights are apart`
    );
  return undefined;
}

/** A serve tenant's name: no '_' (it separates the tenant from the conversation) and not a key id. */
const TENANT_RE = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** A key id as `lyra serve` logs it. */
export const KEY_ID_RE = /^k[0-9a-f]{12}$/;

function checkTenants(tenants: Record<string, string[]>, add: (path: (string | number)[], message: string) => void): void {
  const owner = new Map<string, string>();
  for (const [t, ids] of Object.entries(tenants)) {
    // A tenant named as a key id is that key's own tenant, given to its successor when it rotates.
    if (KEY_ID_RE.test(t) ? !ids.includes(t) : !TENANT_RE.test(t))
      add(
        ["serve", "tenants", t],
        "is not a usable tenant name; use 1-31 lowercase letters, digits and '-' (not '_'; the form of a key id only " +
          "for that key's own tenant, listing it: kOLD: [kOLD, kNEW])",
      );
    ids.forEach((id, i) => {
      if (!KEY_ID_RE.test(id))
        add(
          ["serve", "tenants", t, i],
          `is '${id}', not a key id; use the id 'lyra serve' logs at start ('k' and 12 hex digits: ` +
            `printf %s "$KEY" | sha256sum | cut -c1-12), never the key`,
        );
      else if (owner.has(id))
        add(["serve", "tenants", t, i], `is key id '${id}', already in tenant '${owner.get(id)}'; a key belongs to one tenant`);
      else owner.set(id, t);
    });
  }
}

/** A configuration file that cannot be used. `issues` holds one line per problem. */
export class ConfigError extends SchemaError {
  readonly source: string;
  readonly issues: string[];
  constructor(source: string, issues: string[], options?: { cause?: unknown }) {
    super("invalid_config", issues.join("\n"), options);
    this.source = source;
    this.issues = issues;
  }
}

export interface ParseConfigOptions {
  /** Environment for overrides (NATS_URL, OLLAMA_HOST, LITELLM_BASE_URL); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** File name used in messages; default "<config>". */
  source?: string;
}

/** Parses and validates a mesh configuration, applying environment overrides. Throws ConfigError. */
export function parseMeshConfig(yamlText: string, opts: ParseConfigOptions = {}): MeshConfig {
  const source = opts.source ?? "<config>";
  const doc = parseDocument(yamlText);
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const at = e.linePos?.[0];
      const what = (e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
      return `${source}:${at?.line ?? "?"}:${at?.col ?? "?"}: YAML syntax error: ${what}; fix the YAML at line ${at?.line ?? "?"}`;
    });
    throw new ConfigError(source, lines);
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(source, [`${source}: the file is empty or not a mapping; start from config/mesh.example.yaml`]);
  }
  const overridden = applyEnv(raw as Record<string, unknown>, opts.env ?? process.env);
  mediaEndpoints(raw as Record<string, unknown>, opts.env ?? process.env);
  const result = MeshConfig.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.slice(0, 10).map((i) => describeIssue(source, raw, i, overridden));
  throw new ConfigError(source, lines, { cause: result.error });
}

/** Reads and parses a configuration file. Throws ConfigError. */
export async function loadMeshConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<MeshConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      path,
      [
        `${path}: cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? String(err)}); ` +
          `check the path, or copy config/mesh.example.yaml there`,
      ],
      { cause: err },
    );
  }
  return parseMeshConfig(text, { env, source: path });
}

/** Writes the connection overrides into the raw document; returns which paths came from where. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const from = new Map<string, string>();
  const obj = (k: string) => (raw[k] !== null && typeof raw[k] === "object" ? (raw[k] as Record<string, unknown>) : undefined);
  if (env.NATS_URL) {
    raw.nats = { ...obj("nats"), servers: env.NATS_URL };
    from.set("nats.servers", "NATS_URL");
  }
  // One config serves every process; each process's NATS identity comes from its environment.
  const natsEnv = { NATS_NKEY_FILE: "nkey_file", NATS_INBOX_PREFIX: "inbox_prefix" } as const;
  for (const [name, key] of Object.entries(natsEnv)) {
    if (!env[name]) continue;
    raw.nats = { ...obj("nats"), [key]: env[name] };
    from.set(`nats.${key}`, name);
  }
  if (env.NATS_CA_FILE) {
    const nats = obj("nats") ?? {};
    const tls = nats.tls !== null && typeof nats.tls === "object" ? (nats.tls as Record<string, unknown>) : {};
    raw.nats = { ...nats, tls: { ...tls, ca_file: env.NATS_CA_FILE } };
    from.set("nats.tls.ca_file", "NATS_CA_FILE");
  }
  const hosts = obj("hosts");
  if (env.OLLAMA_HOST && hosts) {
    for (const [name, h] of Object.entries(hosts)) {
      if (h !== null && typeof h === "object") (h as Record<string, unknown>).ollama_url = env.OLLAMA_HOST;
      from.set(`hosts.${name}.ollama_url`, "OLLAMA_HOST");
    }
  }
  if (env.LYRA_REGION) {
    raw.mesh = { ...obj("mesh"), region: env.LYRA_REGION };
    from.set("mesh.region", "LYRA_REGION");
  }
  if (env.LITELLM_BASE_URL) {
    raw.litellm = { ...obj("litellm"), base_url: env.LITELLM_BASE_URL };
    from.set("litellm.base_url", "LITELLM_BASE_URL");
  }
  return from;
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The artist and speech built-ins call the LiteLLM proxy: their options.base_url and api_key_env
 * default to litellm.base_url and litellm.api_key_env, and LITELLM_BASE_URL replaces base_url as it
 * replaces litellm.base_url (so a container reaches the proxy by its service name, not 127.0.0.1).
 */
function mediaEndpoints(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const litellm = isMap(raw.litellm) ? raw.litellm : {};
  const servers = isMap(raw.tools) && isMap(raw.tools.servers) ? raw.tools.servers : {};
  for (const s of Object.values(servers)) {
    if (!isMap(s) || (s.builtin !== "artist" && s.builtin !== "speech")) continue;
    const options = isMap(s.options) ? { ...s.options } : {};
    if (env.LITELLM_BASE_URL) options.base_url = env.LITELLM_BASE_URL;
    else if (options.base_url === undefined && typeof litellm.base_url === "string") options.base_url = litellm.base_url;
    if (options.api_key_env === undefined && typeof litellm.api_key_env === "string") options.api_key_env = litellm.api_key_env;
    if (options.api_key_file === undefined && typeof litellm.api_key_file === "string") options.api_key_file = litellm.api_key_file;
    s.options = options;
  }
}

/** What a field should hold, for the "set X to …" part of a message. Keys use * for names. */
const EXPECT: Record<string, string> = {
  "mesh.name": "a short lowercase name such as 'lyra'",
  "mesh.owner": "a short lowercase name such as 'ops'",
  "mesh.region": "a short lowercase name such as 'eu' (the NATS cluster's name is a good choice)",
  "hosts.*.region": "a short lowercase name such as 'eu' (the NATS cluster's name is a good choice)",
  "nats.servers": "a NATS URL such as 'nats://127.0.0.1:4222', or a list of them",
  "nats.encoding": "msgpack or json",
  "nats.inbox_prefix": "dot-separated tokens such as '_INBOX.lyra'",
  "nats.nkey_file": "the path of an nkey seed file written by 'lyra auth'",
  "roles.*.model": "an Ollama model name such as 'qwen3:8b'",
  "roles.*.backend": "ollama, openai or scripted",
  "roles.*.kind": "router, specialist or voice",
  "roles.*.temperature": "a number from 0 to 2",
  "roles.*.slots": "a whole number of at least 1 (match OLLAMA_NUM_PARALLEL)",
  "roles.*.queue": "a whole number of at least 0",
  "roles.*.keep_alive": "a duration such as '30m' or a number of seconds (-1 keeps it loaded)",
  "roles.*.first_token_timeout_ms": "a positive number of milliseconds such as 20000",
  "roles.*.tools": "a list of grants such as ['clock.now', 'memory.*'] (server.tool or server.*)",
  "roles.*.max_tool_steps": "a whole number from 1 to 64 (default 6)",
  "roles.*.tool_timeout_ms": "a positive number of milliseconds such as 30000",
  "roles.*.classifier.threshold": "a number from 0 to 1 (the least confidence at which the classifier decides alone)",
  "roles.*.classifier.k": "a whole number from 1 to 100 (examples per specialist to average), or leave it out for the centroid",
  "roles.*.classifier.examples": "a map of specialist names to lists of example messages",
  "roles.*.cache": "{ exact: true, semantic: { threshold: 0.9 }, ttl_s: 3600, public: false }",
  "roles.*.cache.ttl_s": "a whole number of seconds from 1 to 2592000 (30 days)",
  "roles.*.cache.semantic.threshold": "a number from 0 to 1 (the least cosine similarity of the two messages), such as 0.9",
  "roles.*.cache.public": "true (every user shares the role's answers) or false (each user has their own)",
  "roles.*.variants": "a list of { name, weight, model?, system?, backend?, shadow? } (answering weights add up to 100)",
  "roles.*.variants.*.name": "lowercase letters, digits, '_' and '-', such as 'qwen3-14b'",
  "roles.*.variants.*.weight": "a percent from 0 to 100",
  "conductor.shadow_concurrency": "a whole number from 0 to 256 (0: no shadow answers)",
  "tools.servers": "a map of tool server names (lowercase letters, digits, '-') to { builtin }, { command, args, env } or { url, headers }",
  "tools.servers.*": "{ builtin: NAME }, { command, args, env, cwd } (stdio MCP server) or { url, headers } (Streamable HTTP)",
  "tools.list_ttl_s": "a whole number of seconds (0 disables the cache)",
  "tools.cache.bucket": "a JetStream KV bucket name: letters, digits, '_' or '-' (default LYRA_TOOL_CACHE)",
  "tools.cache.max_ttl_s": "a whole number of seconds from 1 to 2592000 (30 days)",
  "roles.*.script.*.match": "a valid regular expression",
  "hosts.*.ollama_url": "a URL such as 'http://127.0.0.1:11434'",
  "hosts.*.roles": "a non-empty list of role names defined under roles",
  "litellm.base_url": "the LiteLLM proxy URL such as 'http://litellm:4000/v1'",
  "litellm.api_key_env": "the NAME of the environment variable that holds the key, such as 'LITELLM_API_KEY' (never the key itself)",
  "jetstream.replicas": "1, 3 or 5",
  "jetstream.storage": "file or memory",
  "jetstream.inbox_max_age": "a duration such as '24h' or a number of ms",
  "jetstream.outbox_max_age": "a duration such as '7d' or a number of ms",
  "jetstream.log_max_age": "a duration such as '30d' or a number of ms",
  "jetstream.duplicate_window": "a duration such as '2h' or a number of ms",
  "jetstream.log_max_bytes": "a size such as '1GiB' or a number of bytes",
  "metrics.port": "a port number from 0 to 65535",
  "telemetry.otlp.endpoint": "the OTLP/HTTP collector URL such as 'http://otel-collector:4318'",
  "litellm.api_key_file": "the path of a file with the key (the key alone, or NAME=key as in an env file)",
  "litellm.models": "a map of aliases (or 'default') to { model: 'provider/model', api_key_env, api_base }, or a list of them",
  "litellm.router.cooldown_time": "a duration such as '30s' (how long a failing upstream gets no calls)",
  "litellm.router.routing_strategy": "simple-shuffle, least-busy, latency-based-routing or usage-based-routing-v2",
  "serve.listen": "an address such as '127.0.0.1' or '0.0.0.0'",
  "serve.port": "a port number from 0 to 65535",
  "serve.keys_env": "the NAME of the environment variable that holds the keys, such as 'LYRA_SERVE_KEYS' (never the keys)",
  "serve.keys_file": "the path of a file with the keys, one a line (or an env file assigning serve.keys_env)",
  "serve.key_grace_s": "a whole number of seconds from 0 to 2592000 (30 days)",
  "serve.timeout": "a duration such as '180s' or a number of ms",
  "serve.max_body": "a size such as '1MiB' or a number of bytes",
  "serve.grace": "a duration such as '10s' or a number of ms",
  "serve.header_timeout": "a duration such as '10s' or a number of ms",
  "serve.body_timeout": "a duration such as '30s' or a number of ms",
  "serve.idle_timeout": "a duration such as '5s' or a number of ms",
  "serve.max_connections": "a whole number of connections, 1 or more",
  "serve.tenants": "a map of tenant names to lists of key ids, such as { acme: [k3f1c2a9b8e7d] }",
  "usage.prices": "a map of model names to { input, output } in USD per million tokens, such as { 'gpt-4o': { input: 2.5, output: 10 } }",
  "usage.budgets.default.tokens": "a whole number of tokens a day, 0 or more",
  "usage.budgets.default.usd": "a number of USD a day, 0 or more",
  "usage.budgets.bucket": "a KV bucket name (letters, digits, '_' and '-')",
};

function describeIssue(source: string, raw: unknown, issue: z.core.$ZodIssue, overridden: Map<string, string>): string {
  const path = issue.path.map(String);
  const where = path.length > 0 ? path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i > 0 ? `.${p}` : p)).join("") : "(top level)";
  const envVar = overridden.get(where);
  const fromEnv = envVar ? ` (from environment variable ${envVar})` : "";
  const generic = path.map((p, i) => (((path[0] === "roles" || path[0] === "hosts") && i === 1) || /^\d+$/.test(p) ? "*" : p)).join(".");
  const fix = `set ${where} to ${EXPECT[generic] ?? "a valid value (see config/mesh.example.yaml)"}`;
  const value = valueAt(raw, path);
  if (issue.code === "custom" && (issue.params as { complete?: boolean } | undefined)?.complete)
    return `${source}: ${where}${fromEnv} ${issue.message}`;
  if (issue.code === "unrecognized_keys") {
    const known = knownKeys(path);
    return (
      `${source}: ${where === "(top level)" ? "the top level" : where} has unknown ` +
      `key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}; ` +
      `remove or correct ${issue.keys.length > 1 ? "them" : "it"}${known.length ? ` (allowed: ${known.join(", ")})` : ""}`
    );
  }
  if (value === undefined) return `${source}: ${where} is missing; ${fix}`;
  const why = issue.code === "invalid_format" && issue.format === "regex" ? "wrong format" : issue.message;
  return `${source}: ${where}${fromEnv} is ${JSON.stringify(value)}, which is not valid (${why}); ${fix}`;
}

function valueAt(raw: unknown, path: string[]): unknown {
  let v = raw;
  for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** The keys a strict object at `path` allows, found by walking the schema. */
function knownKeys(path: string[]): string[] {
  let s: z.core.$ZodType | undefined = MeshConfig;
  const unwrap = (t: z.core.$ZodType | undefined): z.core.$ZodType | undefined => {
    const def = t?._zod.def as { innerType?: z.core.$ZodType; in?: z.core.$ZodType; schema?: z.core.$ZodType } | undefined;
    const next = def?.innerType ?? def?.in;
    return next ? unwrap(next) : t;
  };
  for (const p of path) {
    s = unwrap(s);
    const def = s?._zod.def as
      { shape?: Record<string, z.core.$ZodType>; valueType?: z.core.$ZodType; element?: z.core.$ZodType } | undefined;
    s = def?.shape?.[p] ?? def?.valueType ?? def?.element;
  }
  const shape = (unwrap(s)?._zod.def as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}
