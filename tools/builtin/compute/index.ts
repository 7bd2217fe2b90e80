/**
 * `compute`: `python` in a bubblewrap sandbox with hard limits (see sandbox.ts), optional
 * per-conversation sessions, and `calculate` (exact arithmetic and units, no code run). All
 * sandboxes together are bounded by memory_total_mb (bounds.ts: a cgroup v2, else a refused
 * config). The sandbox is self-tested at start; while it fails, python refuses and says why.
 */
import type { BuiltinToolServer } from "../index.ts";
import { BoundKind, computeBound } from "./bounds.ts";
import { calculator } from "./calc/pool.ts";
import { parseComputeOptions } from "./options.ts";
import { probeSandbox } from "./probe.ts";
import { computeServer } from "./server.ts";
import { startSandbox, type Sandbox } from "./sandbox.ts";
import { sessionPool } from "./sessions.ts";

export { COMPUTE_DEFAULTS, parseComputeOptions, type ComputeOptions } from "./options.ts";
export { startSandbox, sandboxCommand, type RunOutcome, type Sandbox } from "./sandbox.ts";
export { probeSandbox } from "./probe.ts";
export { BoundKind, computeBound, sandboxSlots, worstCaseMb, type ComputeBound } from "./bounds.ts";
export { createComputeCgroup, type CgroupHost, type ComputeCgroup } from "./cgroup.ts";
export { calculate, CalcError } from "./calc/evaluate.ts";
export { calculator, type Calculator } from "./calc/pool.ts";

export const computeBuiltin: BuiltinToolServer = {
  description: "python in a sandbox (bubblewrap, hard limits), exact calculation and unit conversion",
  start: async ({ server, options, log }) => {
    const o = parseComputeOptions(server, options);
    const bound = computeBound(server, o);
    const cgroup = bound.kind === BoundKind.Cgroup ? bound.cgroup : undefined;
    const start = (session: boolean) => startSandbox(o, session, cgroup?.dir);
    log.info({ bound: bound.summary }, "compute: memory of all sandboxes together");
    let refusal: string | undefined;
    try {
      refusal = await probeSandbox(o, () => start(false));
    } catch (err) {
      refusal = `the sandbox self-test could not run (${(err as Error).message})`;
    }
    if (refusal) log.warn({ reason: refusal }, "compute: python refuses to run (calculate still works)");
    else log.info({ sessions: o.sessions }, "compute: sandbox self-test passed");
    const sessions = o.sessions ? sessionPool(o, () => start(true)) : undefined;
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
      create: () => computeServer({ o, refusal: () => refusal, sessions, start: () => start(false), slot, live, calc }),
      limits: bound.summary,
      close: async () => {
        for (const box of live) box.kill();
        await Promise.all([sessions?.close(), ...[...live].map((box) => box.exited), calc.close()]);
        await cgroup?.remove();
      },
    };
  },
};
