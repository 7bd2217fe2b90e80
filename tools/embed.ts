/**
 * Embeddings from Ollama's `/api/embed` through the official client (the memory server's search and
 * the agent host's router classifier). A failure is remembered for a
 * short while, so a missing model does not cost every call a round trip; callers then search
 * lexically and say why.
 *
 * What real Ollama revealed (test/real/memory.test.ts): any model answers /api/embed, a chat model
 * too (smollm2 gives 576-dim vectors that mean nothing for search), so the model's capabilities are
 * checked once through /api/show; a bare "" gets `embeddings: []` with status 200, not an error, so
 * texts go as an array (`[""]` gets a vector) and the answer must hold one vector per text; a text
 * longer than the model's context (512 tokens for all-minilm) is cut silently, so the vector is
 * that of its beginning.
 */
import { ToolsError, ToolsErrorCode } from "./errors.ts";
import type { Ollama } from "ollama";

/** How long a failed embedding is remembered before the model is tried again, ms. */
const RETRY_AFTER_MS = 30_000;

export type Embedding = { vector: Float32Array } | { reason: string };

export interface Embedder {
  embed(text: string): Promise<Embedding>;
}

export interface EmbedderOptions {
  host: string;
  model: string;
  timeoutMs: number;
  /** The config key that names the model, for the fix in error messages; default "options.embedding_model" (the memory server's). */
  setting?: string;
}

/** A failure whose message already says what to change (the model is not an embedding model). */
class EmbedFailure extends ToolsError {
  constructor(message: string) {
    super(ToolsErrorCode.NotEmbeddingModel, message);
  }
}

export function createEmbedder(o: EmbedderOptions): Embedder {
  const setting = o.setting ?? "options.embedding_model";
  // Loaded on the first embedding: tools/caller.ts exports this file, and a process that only calls tools never embeds.
  let loaded: Promise<Ollama> | undefined;
  const ollama = () =>
    (loaded ??= import("ollama").then(
      ({ Ollama }) =>
        new Ollama({
          host: o.host,
          // The client has no per-request timeout: every request gets its own deadline here.
          fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(o.timeoutMs) }),
        }),
    ));
  let failed: { at: number; reason: string } | undefined;
  let checked = false;
  /** Throws when the model is not an embedding model (Ollama before 0.6 lists no capabilities: trusted). */
  const checkModel = async () => {
    if (checked) return;
    const caps = (await (await ollama()).show({ model: o.model })).capabilities;
    if (Array.isArray(caps) && !caps.includes("embedding")) {
      throw new EmbedFailure(
        `embedding model '${o.model}' at ${o.host} is not an embedding model (its capabilities: ${caps.join(", ") || "none"}); ` +
          `set ${setting} to one such as all-minilm or nomic-embed-text`,
      );
    }
    checked = true;
  };
  return {
    async embed(text) {
      if (failed && Date.now() - failed.at < RETRY_AFTER_MS) return { reason: failed.reason };
      try {
        await checkModel();
        const r = await (await ollama()).embed({ model: o.model, input: [text] });
        // One text, one vector: anything else is no answer to this text.
        const v = r.embeddings.length === 1 ? r.embeddings[0] : undefined;
        if (!v?.length) throw new Error(`the answer held ${r.embeddings.length} embeddings for 1 input`);
        failed = undefined;
        return { vector: Float32Array.from(v) };
      } catch (err) {
        const reason =
          err instanceof EmbedFailure
            ? err.message
            : `embedding model '${o.model}' at ${o.host} did not answer (${(err as Error).message}); ` +
              `pull it with 'ollama pull ${o.model}' or set ${setting}`;
        failed = { at: Date.now(), reason };
        return { reason };
      }
    },
  };
}
