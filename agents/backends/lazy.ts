/**
 * A backend whose client library is loaded on first use: an agent host does not pay for the
 * `openai` client (about 10 MB resident) while its LiteLLM fallback has never answered, nor for
 * the `ollama` client on a host without Ollama roles.
 */
import type { BackendHealth, ModelBackend } from "./types.ts";

export function lazyBackend(name: string, load: () => Promise<ModelBackend>): ModelBackend {
  let loading: Promise<ModelBackend> | undefined;
  let loaded: ModelBackend | undefined;
  const get = () => (loading ??= load().then((b) => (loaded = b)));
  return {
    name,
    async *chat(req, opts) {
      yield* (await get()).chat(req, opts);
    },
    async health(opts): Promise<BackendHealth> {
      try {
        return await (await get()).health(opts);
      } catch (err) {
        return { ok: false, models: [], loaded: [], error: `could not load the ${name} client: ${(err as Error).message}` };
      }
    },
    async warm(model, opts) {
      return (await get()).warm(model, opts);
    },
    async canContinue(req) {
      return (await (await get()).canContinue?.(req)) ?? false;
    },
    close() {
      loaded?.close?.();
    },
  };
}
