/**
 * `memory`: long-term memory for specialists (semantic_search, recall, commit_journal, forget),
 * stored on disk in one SQLite file with hybrid BM25 + vector search; see server.ts for the tools
 * and store.ts for the storage.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { ToolsError, ToolsErrorCode } from "../../errors.ts";
import { parseServerOptions, type OptionWording } from "../options.ts";
import type { BuiltinContext, StartedBuiltin } from "../index.ts";
import { createEmbedder } from "../../embed.ts";
import { memoryServer } from "./server.ts";
import { openMemoryStore } from "./store.ts";

export { openMemoryStore, type MemoryStore, type MemoryEntry, type SearchHit } from "./store.ts";
export { createEmbedder, type Embedder } from "../../embed.ts";
export { memoryServer } from "./server.ts";

/** Default store without $STATE_DIRECTORY: under the XDG state directory. */
export const DEFAULT_MEMORY_PATH = join(homedir(), ".local", "state", "lyra", "memory.db");

/**
 * The store's path when options.path is not set: memory.db in $STATE_DIRECTORY (systemd's
 * StateDirectory=, whose ProtectSystem=strict forbids the home directory; compose sets it to the
 * tools volume), else DEFAULT_MEMORY_PATH. systemd lists several directories with ':'; the first is used.
 */
export function defaultMemoryPath(env: Readonly<Record<string, string | undefined>>): string {
  const dir = env.STATE_DIRECTORY?.split(":")[0];
  return dir ? join(dir, "memory.db") : DEFAULT_MEMORY_PATH;
}
export const DEFAULT_EMBEDDING_MODEL = "nomic-embed-text";
const DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434";
/** Time an embedding may take before the search falls back to lexical only, ms. */
const DEFAULT_EMBED_TIMEOUT_MS = 10_000;

const Options = z.object({
  path: z.string().min(1).optional(),
  embedding_model: z.string().min(1).optional(),
  ollama_url: z.url().optional(),
  embed_timeout_ms: z.number().int().positive().optional(),
});

const memoryWording: OptionWording = (p) =>
  `${p.where}.${p.path.join(".") || "(root)"} is invalid (${p.message}); options are path, embedding_model, ollama_url, embed_timeout_ms`;

export function startMemory(ctx: BuiltinContext): StartedBuiltin {
  const o = parseServerOptions(Options, ctx.server, ctx.options, memoryWording);
  // "~/..." as a shell would read it: the config file is written for the user running `lyra tools`.
  const path = o.path === undefined ? defaultMemoryPath(ctx.env) : o.path.replace(/^~(?=\/|$)/, homedir());
  let store;
  try {
    store = openMemoryStore(path);
  } catch (err) {
    throw new ToolsError(
      ToolsErrorCode.Config,
      `tools.servers.${ctx.server}.options.path '${path}' cannot be opened as a memory store (${(err as Error).message}); ` +
        `set it to a writable file path`,
      { cause: err },
    );
  }
  const embedder = createEmbedder({
    host: o.ollama_url ?? ctx.env.OLLAMA_HOST ?? DEFAULT_OLLAMA_URL,
    model: o.embedding_model ?? DEFAULT_EMBEDDING_MODEL,
    timeoutMs: o.embed_timeout_ms ?? DEFAULT_EMBED_TIMEOUT_MS,
  });
  ctx.log.info({ path, model: o.embedding_model ?? DEFAULT_EMBEDDING_MODEL }, "memory store open");
  return {
    create: () => memoryServer({ store, embedder }),
    close: async () => store.close(),
  };
}
