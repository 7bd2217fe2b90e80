/**
 * `calculate` off the event loop: one worker thread, calls answered in order, and a call that
 * runs past `timeoutMs` ends the worker (a new one takes the next call).
 */
import { Worker } from "node:worker_threads";

export interface Calculator {
  /** The result text, or `{ error }` saying what to fix. */
  run(expression: string): Promise<{ text: string } | { error: string }>;
  close(): Promise<void>;
}

type Result = { text: string } | { error: string };
type Pending = { expression: string; resolve: (r: Result) => void; timer: NodeJS.Timeout };

/** `timeoutMs`: the time one expression may take (the compute option calculate_timeout_ms, default 2000). */
export function calculator(timeoutMs: number): Calculator {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, Pending>();

  const failAll = (error: string) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.resolve({ error });
      pending.delete(id);
    }
  };
  const ready = new WeakMap<Worker, Promise<unknown>>();
  const start = (): Worker => {
    const w = new Worker(new URL("./worker.ts", import.meta.url));
    // Loading the worker takes a moment; a call's time starts once it has loaded.
    ready.set(w, new Promise((resolve) => w.once("message", resolve).once("exit", resolve)));
    w.unref();
    w.on("message", ({ id, text, error }: { id: number; text?: string; error?: string }) => {
      const p = pending.get(id);
      if (!p) return;
      clearTimeout(p.timer);
      pending.delete(id);
      p.resolve(error !== undefined ? { error } : { text: text! });
    });
    w.on("error", (err: Error) => failAll(`the calculator failed (${err.message})`));
    w.on("exit", () => {
      if (worker === w) worker = undefined;
    });
    return w;
  };

  const calc: Calculator = {
    async run(expression) {
      const w = (worker ??= start());
      await ready.get(w);
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ error: `the calculation took longer than ${timeoutMs / 1000} s and was stopped; use smaller numbers` });
          if (worker === w) worker = undefined;
          void w.terminate();
          // Calls queued behind it go to a fresh worker.
          const queued = [...pending.values()];
          pending.clear();
          for (const p of queued) {
            clearTimeout(p.timer);
            void calc.run(p.expression).then(p.resolve);
          }
        }, timeoutMs);
        pending.set(id, { expression, resolve, timer });
        w.postMessage({ id, expression });
      });
    },
    async close() {
      failAll("the calculator was closed");
      await worker?.terminate();
      worker = undefined;
    },
  };
  return calc;
}
