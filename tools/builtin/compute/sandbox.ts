/**
 * One sandboxed Python process: bubblewrap (no network, own pid/ipc/uts/user/cgroup namespaces,
 * read-only /usr, private tmpfs /tmp, cleared environment) around driver.py, which sets the
 * resource limits on itself, started through launcher.py (joins the compute cgroup, closes every
 * inherited descriptor above stdio). The host enforces the wall clock and the output cap from
 * outside and kills the whole sandbox (bwrap's --die-with-parent and the pid namespace take every
 * process with it).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lstatSync, readFileSync, readlinkSync } from "node:fs";
import type { ComputeOptions } from "./options.ts";

const DRIVER = readFileSync(new URL("./driver.py", import.meta.url), "utf8");
const LAUNCHER = readFileSync(new URL("./launcher.py", import.meta.url), "utf8");
const FRAME = 0x1e;

/** What one call produced. */
export interface RunOutcome {
  /** stdout and stderr together, as written (cut at max_output_bytes). */
  output: string;
  ok: boolean;
  /** repr() of the last expression, when it was one and not None. */
  value?: string;
  /** The Python traceback, or why the sandbox ended. */
  error?: string;
  /** Set when the sandbox ended during the call (a limit, an exit): a session is gone. */
  ended?: string;
}

export interface Sandbox {
  /** Runs code; never rejects for what the code does. Calls on one sandbox must not overlap. */
  run(code: string, signal?: AbortSignal): Promise<RunOutcome>;
  kill(): void;
  readonly alive: boolean;
  /** Resolves (never rejects) once the sandbox's processes are gone and their memory with them. */
  readonly exited: Promise<void>;
}

/** /bin, /lib... as the host has them: merged-/usr symlinks are recreated, directories bound read-only. */
function rootLinks(): string[] {
  const args: string[] = [];
  for (const p of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    try {
      if (lstatSync(p).isSymbolicLink()) args.push("--symlink", readlinkSync(p), p);
      else args.push("--ro-bind", p, p);
    } catch {
      // absent on this system
    }
  }
  return args;
}

/**
 * The command line: the launcher (python3 -I -S: no site, about 10 ms) + setpriv (when root) +
 * bwrap + python3 -I -c driver limits. `cgroup` is the compute cgroup's directory, when one bounds
 * the sandboxes.
 */
export function sandboxCommand(o: ComputeOptions, session: boolean, cgroup?: string): string[] {
  const limits = {
    cpu_hard_s: session ? o.session_cpu_s : o.cpu_s + 1,
    memory_bytes: o.memory_mb * 1024 * 1024,
    processes: o.processes,
    file_bytes: o.tmp_mb * 1024 * 1024,
    open_files: o.open_files,
    max_chars: o.max_output_bytes,
  };
  const bwrap = [
    o.bwrap_path,
    "--unshare-all", // net, pid, ipc, uts, cgroup, user
    "--unshare-user",
    "--disable-userns", // no nested namespaces from inside
    "--die-with-parent",
    "--new-session", // no TIOCSTI into a terminal
    "--clearenv",
    "--setenv",
    "PATH",
    "/usr/bin:/bin",
    "--setenv",
    "HOME",
    "/tmp",
    "--setenv",
    "TMPDIR",
    "/tmp",
    "--setenv",
    "LANG",
    "C.UTF-8",
    // Numeric libraries start a thread per core by default, which the process limit would refuse.
    "--setenv",
    "OMP_NUM_THREADS",
    "1",
    "--setenv",
    "OPENBLAS_NUM_THREADS",
    "1",
    "--hostname",
    "sandbox",
    "--ro-bind",
    "/usr",
    "/usr",
    ...rootLinks(),
    "--proc",
    "/proc", // of the sandbox's own pid namespace
    "--dev",
    "/dev",
    "--remount-ro",
    "/dev",
    "--size",
    String(o.tmp_mb * 1024 * 1024),
    "--perms",
    "1777",
    "--tmpfs",
    "/tmp",
    "--remount-ro",
    "/",
    "--chdir",
    "/tmp",
    "--",
    o.python_path,
    "-I",
    "-u",
    "-X",
    "utf8",
    "-c",
    DRIVER,
    JSON.stringify(limits),
  ];
  // As root, the sandbox's uid maps to root outside and the kernel ignores RLIMIT_NPROC for it:
  // drop to an unprivileged uid first (bwrap then makes an unprivileged user namespace).
  const asRoot = process.getuid?.() === 0;
  const launcher = [o.python_path, "-I", "-S", "-c", LAUNCHER, cgroup ?? ""];
  return [
    ...launcher,
    ...(asRoot ? [o.setpriv_path, `--reuid=${o.sandbox_uid}`, `--regid=${o.sandbox_uid}`, "--clear-groups", "--no-new-privs"] : []),
    ...bwrap,
  ];
}

function signalName(code: number | null, sig: NodeJS.Signals | null): string | undefined {
  if (sig) return sig;
  // bwrap exits 128 + n when its command died of signal n.
  if (code !== null && code > 128)
    return (
      ({ 9: "SIGKILL", 24: "SIGXCPU", 25: "SIGXFSZ", 11: "SIGSEGV", 6: "SIGABRT" } as Record<number, string>)[code - 128] ??
      `signal ${code - 128}`
    );
  return undefined;
}

/** Why the sandbox ended: the kill's reason, a limit's signal, or its exit code and last stderr lines. */
function exitReason(
  o: ComputeOptions,
  session: boolean,
  killedFor: string | undefined,
  exit: { code: number | null; sig: NodeJS.Signals | null } | undefined,
  stderr: string,
): string {
  if (killedFor) return killedFor;
  const sig = signalName(exit?.code ?? null, exit?.sig ?? null);
  if (sig === "SIGXCPU" || sig === "SIGKILL")
    return (
      `the code was stopped (${sig}): ` +
      `it reached the CPU time limit (${o.cpu_s} s per call${session ? `, ${o.session_cpu_s} s per session` : ""}) or the memory limit`
    );
  if (sig) return `the sandbox ended with ${sig}`;
  const detail = stderr.trim().split("\n").slice(-3).join(" | ");
  return `the sandbox ended (exit code ${exit?.code ?? "none"})${detail ? `: ${detail}` : ""}`;
}

/** What a call's output so far says: more to come, a limit passed (end), or its result frame at `at`. */
type Reading =
  { type: "more" } | { type: "end"; reason: string } | { type: "result"; at: number; res: { ok: boolean; value?: string; error?: string } };

function readOutput(buf: Buffer, marker: Buffer, cap: number): Reading {
  const at = buf.indexOf(marker);
  const outLen = at < 0 ? buf.length - (buf[buf.length - 1] === FRAME ? 1 : 0) : at;
  if (outLen > cap) return { type: "end", reason: `the output passed the limit (${cap} bytes) and the code was killed` };
  if (at < 0) return { type: "more" };
  const nl = buf.indexOf(0x0a, at);
  if (nl < 0) {
    if (buf.length - at > 8 * cap + 8192) return { type: "end", reason: "the result frame passed its limit and the code was killed" };
    return { type: "more" };
  }
  try {
    return {
      type: "result",
      at,
      res: JSON.parse(buf.subarray(at + marker.length, nl).toString("utf8")) as { ok: boolean; value?: string; error?: string },
    };
  } catch {
    return { type: "end", reason: "the sandbox answered a frame that is not JSON" };
  }
}

export function startSandbox(o: ComputeOptions, session: boolean, cgroup?: string): Sandbox {
  const [cmd, ...args] = sandboxCommand(o, session, cgroup);
  const child: ChildProcessWithoutNullStreams = spawn(cmd!, args, { stdio: ["pipe", "pipe", "pipe"], env: {}, detached: true });
  let alive = true;
  let killedFor: string | undefined;
  let stderr = "";
  let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
  let onData: ((b: Buffer) => void) | undefined;
  let onExit: (() => void) | undefined;
  let gone!: () => void;
  const exited = new Promise<void>((resolve) => (gone = resolve));
  child.stdout.on("data", (b: Buffer) => onData?.(b));
  child.stderr.on("data", (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString("utf8");
  });
  child.stdin.on("error", () => {}); // EPIPE when it died; the exit says why
  child.on("error", (err) => {
    stderr += `cannot start ${cmd}: ${err.message}`;
    exit ??= { code: null, sig: null };
    alive = false;
    onExit?.();
    gone();
  });
  // 'close' comes once the process has exited and every holder of its stdio is gone: the whole sandbox.
  child.on("close", (code, sig) => {
    exit = { code, sig };
    alive = false;
    onExit?.();
    gone();
  });

  const kill = (why?: string) => {
    killedFor ??= why;
    if (!alive || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL"); // setpriv/bwrap's group; the namespace dies with bwrap
    } catch {
      // already gone
    }
  };

  const why = () => exitReason(o, session, killedFor, exit, stderr);

  function run(code: string, signal?: AbortSignal): Promise<RunOutcome> {
    const id = randomBytes(12).toString("hex");
    const marker = Buffer.from(`\x1e${id}`, "latin1");
    const cap = o.max_output_bytes;
    return new Promise<RunOutcome>((resolve) => {
      let buf = Buffer.alloc(0);
      let settled = false;
      const text = (b: Buffer) => b.subarray(0, cap).toString("utf8");
      const finish = (r: RunOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        onData = undefined;
        onExit = undefined;
        resolve(r);
      };
      const end = (reason: string) => {
        kill(reason);
        const cut = buf.length > cap ? `\n[output cut at ${cap} bytes]` : "";
        finish({ output: text(buf) + cut, ok: false, error: reason, ended: reason });
      };
      const timer = setTimeout(() => end(`the call ran past the wall-clock limit (${o.wall_s} s) and was killed`), o.wall_s * 1000);
      const onAbort = () => end("the call was cancelled and the code was killed");
      signal?.addEventListener("abort", onAbort, { once: true });
      onExit = () => finish({ output: text(buf), ok: false, error: why(), ended: why() });
      onData = (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        const r = readOutput(buf, marker, cap);
        if (r.type === "end") return end(r.reason);
        if (r.type === "result") finish({ output: text(buf.subarray(0, r.at)), ok: r.res.ok, value: r.res.value, error: r.res.error });
      };
      if (!alive) return onExit();
      child.stdin.write(`${JSON.stringify({ id, code, cpu_s: o.cpu_s })}\n`);
    });
  }

  return {
    run,
    kill: () => kill("the sandbox was stopped"),
    get alive() {
      return alive;
    },
    exited,
  };
}
