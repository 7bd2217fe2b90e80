/**
 * SIGHUP: the operator's "re-read your files" (keys rotated). Handlers run one at a time; a
 * failing one is logged and the process keeps what it had.
 */
import type { Logger } from "../../mesh/index.ts";

/** Runs `reload` on every SIGHUP until disposed; returns the dispose (safe to call twice). */
export function onReload(log: Logger, what: string, reload: () => Promise<void> | void): () => void {
  let running = Promise.resolve();
  const on = () => {
    running = running.then(async () => {
      try {
        await reload();
      } catch (err) {
        log.error({ err }, `SIGHUP: could not reload ${what}; keeping the ones in use: ${(err as Error).message}`);
      }
    });
  };
  process.on("SIGHUP", on);
  return () => void process.off("SIGHUP", on);
}
