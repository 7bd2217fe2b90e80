/**
 * What bounds all of one compute server's sandboxes together on this host. RLIMIT_AS and
 * RLIMIT_NPROC are per process and per sandbox, so alone they let forked children and concurrent
 * calls multiply: memory_mb × processes × sandboxes. Where the host allows it, one cgroup v2 holds
 * every sandbox (memory.max = memory_total_mb); elsewhere that product, plus each sandbox's /tmp,
 * must fit memory_total_mb, and a config where it does not is refused at start.
 */
import { ToolsError, ToolsErrorCode } from "../../errors.ts";
import { createComputeCgroup, type CgroupHost, type ComputeCgroup } from "./cgroup.ts";
import type { ComputeOptions } from "./options.ts";

export const BoundKind = { Cgroup: "cgroup", Rlimit: "rlimit" } as const;
export type BoundKind = (typeof BoundKind)[keyof typeof BoundKind];

export type ComputeBound =
  | { kind: typeof BoundKind.Cgroup; cgroup: ComputeCgroup; summary: string }
  | { kind: typeof BoundKind.Rlimit; why: string; worstMb: number; summary: string };

/** Sandboxes alive at once: max_concurrent one-shot calls, and every open session (idle ones hold memory too). */
export const sandboxSlots = (o: ComputeOptions): number => o.max_concurrent + (o.sessions ? o.max_sessions : 0);

/** The most memory the sandboxes can hold by their rlimits alone, MiB (a private /tmp is host memory: tmpfs). */
export const worstCaseMb = (o: ComputeOptions): number => sandboxSlots(o) * (o.memory_mb * o.processes + o.tmp_mb);

const FDS = "descriptors above stdio closed before the sandbox starts";

/** Picks the bound for this host; throws a ToolsError('config') when only rlimits are left and they exceed memory_total_mb. */
export function computeBound(server: string, o: ComputeOptions, host?: CgroupHost): ComputeBound {
  // Per sandbox: `processes` inside its user namespace (RLIMIT_NPROC) and the outer bwrap outside it.
  const pids = sandboxSlots(o) * (o.processes + 1);
  const cg = createComputeCgroup(server, o.memory_total_mb, pids, host);
  if (!("unavailable" in cg)) {
    return {
      kind: BoundKind.Cgroup,
      cgroup: cg,
      summary: `cgroup v2 ${cg.dir}: memory.max ${o.memory_total_mb} MiB, pids.max ${pids} for all sandboxes together; ${FDS}`,
    };
  }
  const worstMb = worstCaseMb(o);
  const product =
    `${sandboxSlots(o)} sandboxes ` +
    `(max_concurrent ${o.max_concurrent}${o.sessions ? ` + max_sessions ${o.max_sessions}` : ""}) ` +
    `× (memory_mb ${o.memory_mb} × processes ${o.processes} + tmp_mb ${o.tmp_mb}) = ${worstMb} MiB`;
  if (worstMb > o.memory_total_mb) {
    throw new ToolsError(
      ToolsErrorCode.Config,
      `tools.servers.${server}.options: no cgroup can bound the sandboxes on this host (${cg.unavailable}), ` +
        `and by their rlimits ${product}, more than memory_total_mb (${o.memory_total_mb}); ` +
        `lower memory_mb, processes, max_concurrent${o.sessions ? ", max_sessions" : ""} or tmp_mb, raise memory_total_mb, ` +
        `or run lyra tools where it can make a cgroup v2 (see "Memory for all calls together" in docs/tools.md)`,
    );
  }
  return {
    kind: BoundKind.Rlimit,
    why: cg.unavailable,
    worstMb,
    summary: `rlimits (no cgroup: ${cg.unavailable}): ${product} ≤ memory_total_mb ${o.memory_total_mb}; ${FDS}`,
  };
}
