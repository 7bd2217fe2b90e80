/** Reads a process's memory and CPU time from /proc (Linux), for the memory and throughput sections. */
import { readdirSync, readFileSync } from "node:fs";

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every mainstream build). */
const CLOCK_TICKS = 100;

/** A /proc/<pid>/status field ("VmRSS", "VmHWM"; the kernel's "kB" are KiB) in MB (10^6 bytes); undefined if unreadable. */
export function statusMB(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? (Number(m[1]) * 1024) / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line: 12th and 13th after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU use of processes between start() and stop(), as % of one core. */
export function cpuMeter(pids: Record<string, number>) {
  const t0 = performance.now();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  return {
    stop(): Record<string, number> {
      const wall = (performance.now() - t0) / 1000;
      return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.round(((cpuSeconds(pid) - c0[k]!) / wall) * 100)]));
    },
  };
}

/** The first process under `root` (itself included, children before grandchildren) whose command line matches `re`. */
export function descendantMatching(root: number, re: RegExp): number | undefined {
  const parents = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone already
    }
  }
  for (let queue = [root]; queue.length;) {
    const pid = queue.shift()!;
    try {
      if (re.test(readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "))) return pid;
    } catch {
      // gone already
    }
    queue = [...queue, ...(parents.get(pid) ?? [])];
  }
  return undefined;
}
