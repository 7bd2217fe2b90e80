/**
 * The cgroup v2 that holds every sandbox of one compute server, where the host lets us make one:
 * `memory.max` and `pids.max` then bound all its sandboxes and every process they fork, together.
 * The group is made beside the process's own cgroup, in its parent (the root when the process sits
 * in the root). That parent must offer the memory and pids controllers; where they are offered but
 * not yet enabled for its children, they are enabled (`cgroup.subtree_control`), which the kernel
 * allows only in a parent without processes of its own: a delegated cgroup such as a systemd unit
 * with `Delegate=` and `DelegateSubgroup=`. No process is ever moved but the sandboxes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Where the host's cgroup facts are read; tests point these at a fake tree. */
export interface CgroupHost {
  /** Default /proc/self: its `mountinfo` finds the cgroup2 mount, its `cgroup` our own group. */
  procSelf?: string;
  /** This process's pid, in the group's name (stale groups of dead pids are removed). Default process.pid. */
  pid?: number;
  /** Whether a pid is alive; default kill(pid, 0). */
  alive?: (pid: number) => boolean;
}

export interface ComputeCgroup {
  /** The group's directory: the launcher writes each sandbox's pid into its cgroup.procs. */
  dir: string;
  /** Kills what is left in the group and removes it once empty (waits up to 2 s); safe to call twice. */
  remove(): Promise<void>;
}

const PREFIX = "lyra-compute-";

/** The cgroup2 mount point and this process's group path under it; undefined without cgroup v2. */
function ownCgroup(procSelf: string): { mount: string; path: string } | undefined {
  const mount = readFileSync(join(procSelf, "mountinfo"), "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .find((f) => f[f.indexOf("-") + 1] === "cgroup2")?.[4];
  const path = /^0::(\/.*)$/m.exec(readFileSync(join(procSelf, "cgroup"), "utf8"))?.[1];
  return mount && path ? { mount, path } : undefined;
}

/** Groups left by compute servers that died without removing theirs (named by their pid). */
function removeStale(parent: string, alive: (pid: number) => boolean): void {
  for (const name of readdirSync(parent)) {
    const pid = Number(/^lyra-compute-.*-(\d+)$/.exec(name)?.[1]);
    if (!pid || alive(pid)) continue;
    try {
      rmdirSync(join(parent, name));
    } catch {
      // processes still in it, or not ours to remove: left alone
    }
  }
}

async function removeGroup(dir: string): Promise<void> {
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1");
  } catch {
    // before kernel 5.14: the sandboxes were killed one by one already
  }
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EBUSY") return; // gone, or not ours
    }
    await sleep(20); // the killed processes are still exiting
  }
  // Still busy: left for the next start, which removes it (its pid is dead by then).
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Makes the server's group with memory.max = memoryMb (and no swap) and pids.max = pids.
 * Returns why not when the host does not allow it (no cgroup v2, controllers not delegated, no
 * permission); the caller then bounds the sandboxes by their rlimits instead.
 */
export function createComputeCgroup(
  server: string,
  memoryMb: number,
  pids: number,
  h: CgroupHost = {},
): ComputeCgroup | { unavailable: string } {
  const procSelf = h.procSelf ?? "/proc/self";
  let own: { mount: string; path: string } | undefined;
  try {
    own = ownCgroup(procSelf);
  } catch (err) {
    return { unavailable: `cannot read ${procSelf}/mountinfo or cgroup (${(err as Error).message})` };
  }
  if (!own) return { unavailable: "no cgroup v2 (unified) hierarchy is mounted for this process" };
  const parent = own.path === "/" ? own.mount : join(own.mount, dirname(own.path));
  const missing = (file: string): string[] => {
    const have = readFileSync(join(parent, file), "utf8").trim().split(/\s+/);
    return ["memory", "pids"].filter((c) => !have.includes(c));
  };
  const both = (m: string[]) => `the ${m.join(" and ")} controller${m.length > 1 ? "s" : ""}`;
  try {
    const offered = missing("cgroup.controllers");
    if (offered.length)
      return { unavailable: `${parent} does not offer ${both(offered)}: cgroup v1 holds them, or they are not delegated` };
    const enabled = missing("cgroup.subtree_control");
    if (enabled.length) writeFileSync(join(parent, "cgroup.subtree_control"), enabled.map((c) => `+${c}`).join(" "));
  } catch (err) {
    return { unavailable: `cannot enable the memory and pids controllers in ${parent} (${(err as Error).message})` };
  }
  const dir = join(parent, `${PREFIX}${server}-${h.pid ?? process.pid}`);
  try {
    removeStale(parent, h.alive ?? isAlive);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "memory.max"), String(memoryMb * 1024 * 1024));
    // Swap is host memory too (and slower): the bound is on what the sandboxes hold, swapped or not.
    if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
    writeFileSync(join(dir, "pids.max"), String(pids));
  } catch (err) {
    try {
      rmdirSync(dir);
    } catch {
      // never made
    }
    return { unavailable: `cannot make the cgroup ${dir} (${(err as Error).message})` };
  }
  let removed: Promise<void> | undefined;
  return {
    dir,
    remove: () => (removed ??= removeGroup(dir)),
  };
}
