/**
 * Shared setup of the agent-host tests: a mesh config whose roles are backed by the Ollama double
 * (optionally with the OpenAI double as the LiteLLM fallback), an in-process agent host on it,
 * the config written to a file for `lyra agent` child processes, and small stream helpers.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { parseMeshConfig, type MeshConfig } from "../../../schemas/config.ts";
import { responseText, type Chunk, type FinalInfo } from "../../../schemas/index.ts";
import type { Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import type { RoleStream } from "../../../mesh/rolecall/types.ts";
import { startAgentHost, type AgentHost } from "../../../agents/host/host.ts";

export { bodyOf, errorCodeOf, isTerminator, rawExchange } from "../mesh/helpers.ts";

/** The environment variable the test configs name for the LiteLLM key (never a real key). */
export const LITELLM_KEY_ENV = "LYRA_TEST_LITELLM_KEY";

/** What a role may override in the generated config (the YAML field names). */
export interface RoleYaml {
  model?: string;
  kind?: "router" | "specialist" | "voice";
  description?: string;
  slots?: number;
  queue?: number;
  fallback?: string;
  first_token_timeout_ms?: number;
  keep_alive?: string | number;
  /** roles.<role>.cache (ResponseCacheConfig's YAML form). */
  cache?: Record<string, unknown>;
}

export interface AgentYamlOptions {
  natsUrl: string;
  /** Ollama URL of every host, unless `hosts` gives one per host. */
  ollamaUrl?: string;
  /** The OpenAI double's base URL (`<url>/v1`): adds the litellm section. */
  litellmUrl?: string;
  /** Role overrides, merged over the defaults (router, pragmatist, philosopher, voice). */
  roles?: Record<string, RoleYaml>;
  /** Hosts and their roles; default `local` serving every role. */
  hosts?: Record<string, { roles: string[]; ollama_url?: string; preload?: boolean }>;
  /** The usage section (prices, budgets); default none. */
  usage?: Record<string, unknown>;
}

export const ROUTER_MODEL = "qwen3:4b";
export const MODEL = "qwen3:8b";

/** A production-shaped config: every role on Ollama, one host unless told otherwise. */
export function agentYaml(o: AgentYamlOptions): string {
  const defaults: Record<string, RoleYaml> = {
    router: { model: ROUTER_MODEL, kind: "router", slots: 2 },
    pragmatist: { model: MODEL, kind: "specialist", description: "practical how-to answers", slots: 2 },
    philosopher: { model: MODEL, kind: "specialist", description: "why-questions and meaning", slots: 2 },
    voice: { model: MODEL, kind: "voice", slots: 2 },
  };
  const roles: Record<string, RoleYaml> = { ...defaults };
  for (const [name, r] of Object.entries(o.roles ?? {})) roles[name] = { ...defaults[name], model: MODEL, ...r };
  const hosts = o.hosts ?? { local: { roles: Object.keys(roles) } };
  const doc: Record<string, unknown> = {
    mesh: { name: "test", owner: "tester" },
    nats: { servers: [o.natsUrl] },
    roles: Object.fromEntries(Object.entries(roles).map(([name, r]) => [name, { backend: "ollama", ...r }])),
    router: { default_specialist: "pragmatist" },
    hosts: Object.fromEntries(
      Object.entries(hosts).map(([name, h]) => [
        name,
        { ollama_url: h.ollama_url ?? o.ollamaUrl, roles: h.roles, ...(h.preload !== undefined ? { preload: h.preload } : {}) },
      ]),
    ),
  };
  if (o.usage) doc.usage = o.usage;
  if (o.litellmUrl) doc.litellm = { base_url: o.litellmUrl, api_key_env: LITELLM_KEY_ENV };
  return stringify(doc);
}

/** The config as the agent host gets it (no environment overrides from this machine). */
export function agentConfig(o: AgentYamlOptions): MeshConfig {
  return parseMeshConfig(agentYaml(o), { source: "test agent config", env: {} });
}

/** Writes text to a fresh temp file, for `lyra agent --config`. */
export function writeTempFile(text: string, name = "mesh.yaml"): string {
  const path = join(mkdtempSync(join(tmpdir(), "lyra-agent-cfg-")), name);
  writeFileSync(path, text);
  return path;
}

/**
 * Environment for `lyra agent` child processes: the config file alone decides where NATS, Ollama
 * and LiteLLM are (this machine's NATS_URL / OLLAMA_HOST / LITELLM_BASE_URL must not override it).
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { NATS_URL: "", OLLAMA_HOST: "", LITELLM_BASE_URL: "", LYRA_ENCODING: "", [LITELLM_KEY_ENV]: "sk-test", ...extra };
}

/** Starts an agent host in this process, quietly, with health checks left to the test. */
export async function startTestAgent(
  mesh: Mesh,
  config: MeshConfig,
  opts: { host?: string; metricsPort?: number | null } = {},
): Promise<AgentHost> {
  // The OpenAI backend reads its key from the variable the config names, when it is created.
  process.env[LITELLM_KEY_ENV] = "sk-test";
  return startAgentHost({
    config,
    host: opts.host ?? "local",
    mesh,
    log: silentLogger,
    metricsPort: opts.metricsPort ?? null,
    healthIntervalMs: 600_000,
    heartbeatIntervalS: 0,
  });
}

/** Client defaults for a loaded test machine: a late ack is not a dead replica here. */
export const PATIENT = { ackWindowMs: 5000, timeoutMs: 30_000 } as const;

/** Every chunk of a stream, with the text deltas and the final picked out. */
export async function drain(stream: RoleStream): Promise<{ chunks: Chunk[]; deltas: string[]; final: FinalInfo | undefined }> {
  const chunks: Chunk[] = [];
  for await (const c of stream) chunks.push(c);
  const deltas = chunks.flatMap((c) => (c.type === "response" ? [responseText(c)] : []));
  const final = chunks.find((c): c is Extract<Chunk, { type: "final" }> => c.type === "final")?.data;
  return { chunks, deltas, final };
}

/** Resolves with the value, or rejects naming `what` when it takes longer than `ms` (a hang). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** The rejection of a promise that must fail (fails the test if it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** A reply of `n` words, so a stream has several deltas. */
export function words(n: number, prefix = "w"): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`).join(" ");
}
