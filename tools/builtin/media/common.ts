/**
 * What the artist and speech servers share: their OpenAI-compatible endpoint options (the LiteLLM
 * proxy), the `openai` client, errors as text the model can act on, option checks with messages
 * that say what to fix, and the tool result of a stored media item.
 */
import type OpenAI from "openai";
import type { CallToolResult } from "@modelcontextprotocol/server";
import { z } from "zod";
import { sniffMedia, type Media } from "../../../schemas/index.ts";
import { DEFAULT_MEDIA_MAX_AGE_MS, mediaUri, readKeyFile, type Logger } from "../../../mesh/index.ts";
import { parseServerOptions, seeExampleConfig } from "../options.ts";

export const ENDPOINT_DEFAULTS = {
  base_url: "http://127.0.0.1:4000/v1",
  api_key_env: "LITELLM_API_KEY",
  media_max_age_ms: DEFAULT_MEDIA_MAX_AGE_MS,
} as const;

/** The options every OpenAI-compatible media server takes. */
export const endpointOptions = {
  /** The OpenAI-compatible API (LiteLLM proxy), with its `/v1`. */
  base_url: z.url({ protocol: /^https?$/ }).default(ENDPOINT_DEFAULTS.base_url),
  /** The NAME of the environment variable that holds the key (never the key itself). */
  api_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default(ENDPOINT_DEFAULTS.api_key_env),
  /**
   * A file with the key (the key alone, or an env file assigning api_key_env), read at each call, so
   * the key rotates without a restart; default litellm.api_key_file. When set, the variable is not read.
   */
  api_key_file: z.string().min(1).optional(),
  /** How long stored items live in LYRA_MEDIA when this server creates the bucket, ms. */
  media_max_age_ms: z
    .int()
    .min(60_000)
    .max(365 * 86_400_000)
    .default(ENDPOINT_DEFAULTS.media_max_age_ms),
};

/** Parses `tools.servers.<server>.options`; a bad one is a ToolsError('config') naming the option and the fix. */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  server: string,
  options: Readonly<Record<string, unknown>>,
  what: string,
): z.output<S> {
  return parseServerOptions(schema, server, options, seeExampleConfig(what));
}

type OpenAIModule = typeof import("openai");
let openaiModule: Promise<OpenAIModule> | undefined;
/** The `openai` package, loaded on first use: importing it costs every `lyra tools` start about 0.5 s otherwise. */
export const loadOpenAI = (): Promise<OpenAIModule> => (openaiModule ??= import("openai"));

/** The client for one call, or the reason there is none (the key is missing from the environment). */
export async function openaiClient(
  o: { base_url: string; api_key_env: string; api_key_file?: string; timeout_ms: number },
  env: Readonly<Record<string, string | undefined>>,
): Promise<OpenAI | string> {
  const apiKey = o.api_key_file === undefined ? env[o.api_key_env] : keyFromFile(o.api_key_file, o.api_key_env);
  if (typeof apiKey === "object") return apiKey.error;
  if (!apiKey)
    return `the tool host has no API key for ${o.base_url}; its operator must set ${o.api_key_env} in the environment of 'lyra tools'`;
  const { default: OpenAIClient } = await loadOpenAI();
  // Retries are the model's call (it reads the error); one attempt per call here.
  return new OpenAIClient({ apiKey, baseURL: o.base_url, maxRetries: 0, timeout: o.timeout_ms });
}

/** The one key in the key file, or why there is none (the operator's to fix; the model reads it). */
function keyFromFile(path: string, envName: string): string | { error: string } {
  try {
    const keys = readKeyFile(path, envName, "the api_key_file option");
    if (keys.length === 1) return keys[0]!;
    return { error: `the tool host's key file ${path} holds ${keys.length} keys; its operator must put exactly one in it. Do not retry.` };
  } catch (err) {
    return { error: `the tool host has no API key: ${(err as Error).message}. Do not retry.` };
  }
}

/** A failure as a tool result the model reads: what happened and what to do. */
export function failed(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/** An error of the endpoint (or of reaching it) as text naming whose fault it is. */
export async function endpointError(
  err: unknown,
  endpoint: string,
  o: { base_url: string; api_key_env: string; api_key_file?: string; model: string; timeout_ms: number },
  log: Logger,
): Promise<string> {
  const { default: OpenAI } = await loadOpenAI();
  if (err instanceof OpenAI.APIUserAbortError) return "the call was cancelled";
  if (err instanceof OpenAI.APIConnectionTimeoutError)
    return `the ${endpoint} endpoint did not answer within ${o.timeout_ms} ms; try again later, or with a smaller request`;
  if (err instanceof OpenAI.APIConnectionError)
    return `the ${endpoint} endpoint at ${o.base_url} cannot be reached (${err.message}); is the LiteLLM proxy running?`;
  if (err instanceof OpenAI.APIError) {
    const detail = (err.error as { message?: string } | undefined)?.message ?? err.message;
    const type = (err.error as { type?: string } | undefined)?.type;
    switch (err.status) {
      case 400:
      case 422:
        return (
          `the ${endpoint} endpoint refused the request (${err.status}${type ? ` ${type}` : ""}): ${detail}; ` +
          `change the arguments (or the prompt) and try again`
        );
      case 401:
      case 403:
        return (
          `the ${endpoint} endpoint refused the tool host's key (${err.status}: ${detail}); ` +
          `the operator must set a valid key in ${o.api_key_file ?? o.api_key_env}. Do not retry.`
        );
      case 404:
        return (
          `the ${endpoint} endpoint has no model '${o.model}' (404: ${detail}); ` +
          `the operator must set the server's options.model to a model LiteLLM serves. Do not retry.`
        );
      case 429: {
        const after = (err.headers as Headers | undefined)?.get("retry-after");
        return `the ${endpoint} endpoint is rate limiting requests (429: ${detail}); try again ${after ? `after ${after} s` : "later"}`;
      }
      default:
        return `the ${endpoint} endpoint failed (${err.status ?? "no status"}: ${detail}); try again later`;
    }
  }
  log.error({ err }, `${endpoint} call failed unexpectedly`);
  return `the ${endpoint} call failed unexpectedly (${(err as Error).message})`;
}

/** A one-line description of a stored item, e.g. `image/png, 1.2 MB, reference image/3f5a…`. */
export function mediaLine(m: Media): string {
  const size = m.size >= 1024 * 1024 ? `${(m.size / 1024 / 1024).toFixed(1)} MiB` : `${Math.max(1, Math.round(m.size / 1024))} KiB`;
  return `${m.mime}, ${size}, reference ${m.object ?? "(inline)"}`;
}

/** The `resource_link` block of a stored item (MCP 2025-06-18 and later). */
export function resourceLink(m: Media, name: string, description: string): CallToolResult["content"][number] {
  return { type: "resource_link", uri: mediaUri(m) ?? "", name, mimeType: m.mime, size: m.size, description };
}

/** What the bytes are (sniffed), or undefined for a format Lyra does not know. */
export function trySniff(bytes: Uint8Array): ReturnType<typeof sniffMedia> | undefined {
  try {
    return sniffMedia(bytes);
  } catch {
    return undefined;
  }
}
