/**
 * Embeddings from Ollama's `/api/embed` through the official client. A failure is remembered for a
 * short while, so a missing model does not cost every call a round trip; callers then search
 * lexically and say why.
 */
import { Ollama } from "ollama";

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
}

export function createEmbedder(o: EmbedderOptions): Embedder {
  const client = new Ollama({
    host: o.host,
    // The client has no per-request timeout: every request gets its own deadline here.
    fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(o.timeoutMs) }),
  });
  let failed: { at: number; reason: string } | undefined;
  return {
    async embed(text) {
      if (failed && Date.now() - failed.at < RETRY_AFTER_MS) return { reason: failed.reason };
      try {
        const r = await client.embed({ model: o.model, input: text });
        const v = r.embeddings[0];
        if (!v?.length) throw new Error("the answer held no embedding");
        failed = undefined;
        return { vector: Float32Array.from(v) };
      } catch (err) {
        const reason = `embedding model '${o.model}' at ${o.host} did not answer (${(err as Error).message}); pull it with 'ollama pull ${o.model}' or set options.embedding_model`;
        failed = { at: Date.now(), reason };
        return { reason };
      }
    },
  };
}
