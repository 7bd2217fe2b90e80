/**
 * What bounds all of a compute server's sandboxes together: a cgroup v2 (here on a fake tree), else the rlimits' worst case against
 * memory_total_mb.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BoundKind,
  COMPUTE_DEFAULTS,
  computeBound,
  createComputeCgroup,
  parseComputeOptions,
  worstCaseMb,
  type CgroupHost,
} from "../../../tools/builtin/compute/index.ts";

let root: string;
let host: CgroupHost;

/**
 * A /proc/self whose mountinfo puts cgroup2 at <root>/cg, our group at /svc/main, and /svc offering `offered` and enabling `controllers`
 * for its children.
 */
function fakeTree(controllers: string, offered = "cpu io memory pids"): void {
  mkdirSync(join(root, "proc"), { recursive: true });
  mkdirSync(join(root, "cg", "svc", "main"), { recursive: true });
  writeFileSync(
    join(root, "proc", "mountinfo"),
    `25 1 0:22 / /proc rw - proc proc rw\n41 31 0:38 / ${join(root, "cg")} rw,relatime - cgroup2 cgroup2 rw\n`,
  );
  writeFileSync(join(root, "proc", "cgroup"), "0::/svc/main\n");
  writeFileSync(join(root, "cg", "svc", "cgroup.subtree_control"), controllers);
  writeFileSync(join(root, "cg", "svc", "cgroup.controllers"), offered);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "lyra-cgroup-"));
  host = { procSelf: join(root, "proc"), pid: 4242, alive: (pid) => pid === 4242 };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("compute cgroup", () => {
  it("makes the group beside its own, in a parent that delegates memory and pids, and removes groups of dead servers", () => {
    fakeTree("cpu memory pids\n");
    mkdirSync(join(root, "cg", "svc", "lyra-compute-compute-999")); // a server that died
    const cg = createComputeCgroup("compute", 1536, 40, host);
    if ("unavailable" in cg) throw new Error(cg.unavailable);
    expect(cg.dir).toBe(join(root, "cg", "svc", "lyra-compute-compute-4242"));
    expect(readFileSync(join(cg.dir, "memory.max"), "utf8")).toBe(String(1536 * 1024 * 1024));
    expect(readFileSync(join(cg.dir, "pids.max"), "utf8")).toBe("40");
    expect(existsSync(join(root, "cg", "svc", "lyra-compute-compute-999"))).toBe(false);
  });

  it("enables memory and pids for the parent's children where it offers them (a delegated cgroup)", () => {
    fakeTree("cpu");
    const cg = createComputeCgroup("compute", 1536, 40, host);
    expect("dir" in cg).toBe(true);
    expect(readFileSync(join(root, "cg", "svc", "cgroup.subtree_control"), "utf8")).toBe("+memory +pids");
  });

  it("says why not when the parent does not offer the controllers, or there is no cgroup v2", () => {
    fakeTree("", "cpu io hugetlb\n");
    expect(createComputeCgroup("compute", 1536, 40, host)).toEqual({
      unavailable:
        `${join(root, "cg", "svc")} does not offer ` +
        `the memory and pids controllers: ` +
        `cgroup v1 holds them, or they are not delegated`,
    });
    writeFileSync(join(root, "proc", "mountinfo"), "25 1 0:22 / /proc rw - proc proc rw\n");
    expect(createComputeCgroup("compute", 1536, 40, host)).toEqual({
      unavailable: "no cgroup v2 (unified) hierarchy is mounted for this process",
    });
  });
});

describe("compute bound", () => {
  const opts = (o: Record<string, unknown>) => parseComputeOptions("big", o);
  const big = { memory_mb: 128, processes: 16, tmp_mb: 8, max_concurrent: 2, memory_total_mb: 1536 };

  it("with a cgroup, memory.max is memory_total_mb for all sandboxes and pids.max their processes", () => {
    fakeTree("memory pids");
    const b = computeBound("big", opts(big), host);
    expect(b.kind).toBe(BoundKind.Cgroup);
    expect(b.summary).toBe(
      `cgroup v2 ${join(root, "cg", "svc", "lyra-compute-big-4242")}: memory.max 1536 MiB, pids.max 34 for all sandboxes together; ` +
        `descriptors above stdio closed before the sandbox starts`,
    );
  });

  it("without one, refuses a config whose rlimits could pass memory_total_mb, and says what to change", () => {
    fakeTree("", "cpu");
    expect(() => computeBound("big", opts(big), host)).toThrow(
      new RegExp(
        String.raw`^tools\.servers\.big\.options: no cgroup can bound the sandboxes on this host ` +
          String.raw`\(.* does not offer the memory and pids controllers: .*\), ` +
          String.raw`and by their rlimits 2 sandboxes \(max_concurrent 2\) × \(memory_mb 128 × processes 16 \+ tmp_mb 8\) = 4112 MiB, ` +
          String.raw`more than memory_total_mb \(1536\); ` +
          String.raw`lower memory_mb, processes, max_concurrent or tmp_mb, raise memory_total_mb`,
      ),
    );
    // Open sessions hold memory too: each counts as a sandbox.
    expect(() => computeBound("big", opts({ ...big, processes: 5, sessions: true, max_sessions: 3 }), host)).toThrow(
      /5 sandboxes \(max_concurrent 2 \+ max_sessions 3\) × .* = 3240 MiB, .*max_concurrent, max_sessions or tmp_mb/,
    );
    const fits = computeBound("big", opts({ ...big, processes: 5 }), host);
    expect(fits).toMatchObject({ kind: BoundKind.Rlimit, worstMb: 1296 });
    expect(fits.summary).toMatch(
      /^rlimits \(no cgroup: .*\): 2 sandboxes .* = 1296 MiB ≤ memory_total_mb 1536; descriptors above stdio closed/,
    );
  });

  it("the defaults fit their own total on a host without a cgroup", () => {
    const o = opts({});
    expect(worstCaseMb(o)).toBeLessThanOrEqual(COMPUTE_DEFAULTS.memory_total_mb);
    fakeTree("", "hugetlb");
    expect(computeBound("compute", o, host).kind).toBe(BoundKind.Rlimit);
  });

  it("memory_total_mb must hold at least one process and its /tmp", () => {
    expect(() => parseComputeOptions("compute", { memory_total_mb: 100 })).toThrow(
      /options\.memory_total_mb is 100: it must hold one process and its \/tmp, memory_mb \+ tmp_mb = 320 MiB/,
    );
    expect(() => parseComputeOptions("compute", { memory_mb: 4096 })).toThrow(
      /options\.memory_total_mb is not set \(default 3584\): .* = 4160 MiB/,
    );
  });
});
