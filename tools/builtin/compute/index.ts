/**
 * `compute`: `python` in a bubblewrap sandbox with hard limits (see sandbox.ts), optional
 * per-conversation sessions, and `calculate` (exact arithmetic and units, no code run). The
 * sandbox is self-tested at start; while it fails, python refuses and says why.
 */
import type { BuiltinToolServer } from "../index.ts";
import { calculator } from "./calc/pool.ts";
import { parseComputeOptions } from "./options.ts";
import { probeSandbox } from "./probe.ts";
import { computeServer } from "./server.ts";
import type { Sandbox } from "./sandbox.ts";
import { sessionPool } from "./sessions.ts";

export { COMPUTE_DEFAULTS, parseComputeOptions, type ComputeOptions } from "./options.ts";
export { startSandbox, sandboxCommand, type RunOutcome, type Sandbox } from "./sandbox.ts";
export { probeSandbox } from "./probe.ts";
export { calculate, CalcError } from "./calc/evaluate.ts";
export { calculator, type Calculator } from "./calc/pool.ts";

export const computeBuiltin: BuiltinToolServer = {
  description: "python in a sandbox (bubblewrap, hard limits), exact calculation and unit conversion",
  start: async ({ server, options, log }) => {
    const o = parseComputeOptions(server, options);
    let refusal: string | undefined;
    try {
      refusal = await probeSandbox(o);
    } catch (err) {
      refusal = `the sandbox self-test could not run (${(err as Error).message})`;
    }
    if (refusal) log.warn({ reason: refusal }, "compute: python refuses to run (calculate still works)");
    else log.info({ sessions: o.sessions }, "compute: sandbox self-test passed");
    const sessions = o.sessions ? sessionPool(o) : undefined;
    let running = 0;
    const waiters: (() => void)[] = [];
    const slot = async (signal?: AbortSignal) => {
      while (running >= o.max_concurrent) {
        signal?.throwIfAborted();
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      running++;
      return () => {
        running--;
        waiters.shift()?.();
      };
    };
    const live = new Set<Sandbox>();
    const calc = calculator(o.calculate_timeout_ms);
    void calc.run("0"); // loads the worker now rather than on the first call
    return {
      create: () => computeServer({ o, refusal: () => refusal, sessions, slot, live, calc }),
      close: async () => {
        sessions?.close();
        for (const box of live) box.kill();
        await calc.close();
      },
    };
  },
};
