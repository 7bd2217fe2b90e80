/** The worker thread `calculate` runs in, so that no expression can hold the tool host's event loop. */
import { parentPort } from "node:worker_threads";
import { CalcError, calculate } from "./evaluate.ts";

parentPort!.on("message", ({ id, expression }: { id: number; expression: string }) => {
  try {
    parentPort!.postMessage({ id, text: calculate(expression) });
  } catch (err) {
    const known = err instanceof CalcError || err instanceof RangeError;
    parentPort!.postMessage({
      id,
      error: known ? (err instanceof RangeError ? "the numbers are too large" : err.message) : `unexpected error: ${String(err)}`,
    });
  }
});
// Loaded: calls are timed from here on.
parentPort!.postMessage({ ready: true });
