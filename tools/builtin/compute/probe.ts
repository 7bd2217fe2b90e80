/**
 * The start-up self-test: the sandbox must start and show, from inside, no network, only its own
 * processes, a cleared environment, a read-only /usr and an enforced process limit. Until it
 * passes, `python` refuses with the reason; code never runs unsandboxed.
 */
import { accessSync, constants } from "node:fs";
import type { ComputeOptions } from "./options.ts";
import { startSandbox, type Sandbox } from "./sandbox.ts";

const CHECK = (processes: number) => `
import os, socket, time
problems = []
try:
    socket.create_connection(("192.0.2.1", 9), timeout=1).close()
    problems.append("the network is reachable")
except OSError:
    pass
pids = [p for p in os.listdir("/proc") if p.isdigit()]
if len(pids) > 4:
    problems.append(f"{len(pids)} processes are visible")
extra = set(os.environ) - {"PATH", "HOME", "TMPDIR", "LANG", "LC_CTYPE", "PWD", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}
if extra:
    problems.append("the environment was not cleared")
try:
    open("/usr/lyra-probe", "w").close()
    problems.append("/usr is writable")
except OSError:
    pass
kids = []
try:
    for _ in range(${processes + 2}):
        pid = os.fork()
        if pid == 0:
            time.sleep(10)
            os._exit(0)
        kids.append(pid)
    problems.append("the process limit is not enforced")
except OSError:
    pass
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
print("; ".join(problems) or "sandbox ok", end="")
`;

/** Undefined when the sandbox works; else why `python` must refuse. `start` makes the sandbox (default: no cgroup). */
export async function probeSandbox(o: ComputeOptions, start: () => Sandbox = () => startSandbox(o, false)): Promise<string | undefined> {
  const asRoot = process.getuid?.() === 0;
  for (const [path, pkg] of [
    [o.bwrap_path, "bubblewrap"],
    [o.python_path, "python3"],
    ...(asRoot ? [[o.setpriv_path, "util-linux"]] : []),
  ] as const) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      return (
        `${path} is missing or not executable: ` + `install ${pkg} (apt-get install ${pkg}) or set its path in the compute server's options`
      );
    }
  }
  const box = start();
  try {
    const r = await box.run(CHECK(o.processes));
    if (r.output === "sandbox ok" && r.ok) return undefined;
    return `the sandbox self-test failed: ${r.ok ? r.output : (r.error ?? r.output).trim().split("\n").slice(-2).join(" ")}`;
  } finally {
    box.kill();
    await box.exited;
  }
}
