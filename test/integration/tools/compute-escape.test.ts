/**
 * The sandbox escape suite: model-written code trying to get out of the compute sandbox, each
 * attempt through the real tool server over a real nats-server. Each attempt first prints its
 * probe marker (proof it ran), then ESCAPED only if it got what it must not get; after each, the
 * host must serve the next call.
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeFixture, TEST_LIMITS, type ComputeFixture, type Result } from "./compute-fixture.ts";
import { eventually } from "../../harness/eventually.ts";

const SECRET = "lyra-secret-7f3a9c";
process.env.LYRA_COMPUTE_TEST_SECRET = SECRET;

let f: ComputeFixture;
let dir: string;
let meshConfig: string;
const attempts: string[] = [];
const escapes: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lyra-compute-escape-"));
  meshConfig = join(dir, "mesh.yaml");
  writeFileSync(meshConfig, `nats:\n  password: ${SECRET}\n`);
  f = await computeFixture({ compute: TEST_LIMITS });
  const ok = await f.call("compute", "python", { code: "print(6 * 7)" });
  expect(ok, `the sandbox does not work on this machine: ${ok.text}`).toEqual({ text: "42", isError: false });
});
afterAll(async () => {
  await f?.close();
  rmSync(dir, { recursive: true, force: true });
  // The suite's own tally (each test also fails on its own): none got out.
  expect(escapes, `${escapes.length} of ${attempts.length} attempts got out`).toEqual([]);
});

/**
 * Runs one attempt; asserts that its probe ran (the sandbox printed the probe's marker before the
 * escape was tried, so "nothing got out" is not just "nothing ran"), that it did not get out, and
 * that the host serves the next call.
 */
async function attempt(name: string, code: string): Promise<Result> {
  attempts.push(name);
  const marker = `probe-ran:${name}`;
  // flush: a probe killed at a limit must still have shown that it started.
  const r = await f.call("compute", "python", { code: `print(${JSON.stringify(marker)}, flush=True)\n${code}` });
  expect(r.text, `${name}: the probe never ran`).toContain(marker);
  if (r.text.includes("ESCAPED")) escapes.push(`${name}: ${r.text.slice(0, 200)}`);
  expect(r.text, name).not.toContain("ESCAPED");
  expect(r.text).not.toContain(SECRET);
  const next = await f.call("compute", "python", { code: "6 * 7" });
  expect(next, `the host after '${name}'`).toEqual({ text: "42", isError: false });
  return r;
}

const py = (lines: string[]) => lines.join("\n");

describe("compute sandbox escape suite", () => {
  it("cannot open a TCP connection to the mesh's nats-server on the host", async () => {
    const r = await attempt(
      "tcp to nats",
      py([
        "import socket",
        "try:",
        `    s = socket.create_connection(("127.0.0.1", ${f.nats.port}), timeout=2)`,
        "    print('ESCAPED', s.recv(100))",
        "except OSError as e:",
        "    print('refused:', e)",
      ]),
    );
    expect(r.text).toMatch(/refused/);
  });

  it("cannot reach an outside address (TCP and UDP)", async () => {
    await attempt(
      "outside network",
      py([
        "import socket",
        "for fam, kind, addr in [(socket.AF_INET, socket.SOCK_STREAM, ('1.1.1.1', 53)), " +
          "(socket.AF_INET, socket.SOCK_DGRAM, ('8.8.8.8', 53)), (socket.AF_INET6, socket.SOCK_STREAM, ('2606:4700:4700::1111', 53))]:",
        "    try:",
        "        s = socket.socket(fam, kind); s.settimeout(2); s.connect(addr); s.send(b'x'); print('ESCAPED', addr)",
        "    except OSError as e:",
        "        print('refused', addr, e)",
      ]),
    );
  });

  it("cannot resolve a name", async () => {
    const r = await attempt(
      "resolve",
      py([
        "import socket",
        "for name in ['example.com', 'localhost', 'nats']:",
        "    try:",
        "        print('ESCAPED', socket.getaddrinfo(name, 80))",
        "    except OSError as e:",
        "        print('no', name, e)",
      ]),
    );
    expect(r.text).toMatch(/no example\.com/);
  });

  it("sees no network interface but a down loopback", async () => {
    await attempt(
      "interfaces",
      py([
        "import socket",
        "names = [n for _, n in socket.if_nameindex()]",
        "print(names)",
        "if set(names) - {'lo'}: print('ESCAPED', names)",
      ]),
    );
  });

  it("cannot read the mesh config", async () => {
    await attempt(
      "mesh config",
      py([
        `for p in ` +
          `[${JSON.stringify(meshConfig)}, ${JSON.stringify(resolve("config/mesh.example.yaml"))}, ${JSON.stringify(resolve("config"))}]:`,
        "    try:",
        "        print('ESCAPED', open(p).read()[:50])",
        "    except OSError as e:",
        "        print('no', type(e).__name__)",
      ]),
    );
  });

  it("cannot read /etc/shadow, /etc/passwd or /root", async () => {
    await attempt(
      "shadow",
      py([
        "import os",
        "for p in ['/etc/shadow', '/etc/passwd', '/etc/gshadow']:",
        "    try:",
        "        print('ESCAPED', open(p).read()[:50])",
        "    except OSError as e:",
        "        print('no', p, type(e).__name__)",
        "for d in ['/root', '/home', '/etc', '/var', '/work']:",
        "    try:",
        "        print('ESCAPED', d, os.listdir(d))",
        "    except OSError as e:",
        "        print('no', d, type(e).__name__)",
      ]),
    );
  });

  it("cannot write outside its private /tmp", async () => {
    const r = await attempt(
      "write outside tmp",
      py([
        "for p in ['/usr/lyra', '/lyra', '/etc/lyra', '/dev/lyra', '/proc/lyra', '/usr/bin/python3']:",
        "    try:",
        "        open(p, 'a').write('x'); print('ESCAPED', p)",
        "    except OSError as e:",
        "        print('no', p, type(e).__name__)",
        "open('/tmp/mine', 'w').write('ok'); print('tmp', open('/tmp/mine').read())",
      ]),
    );
    expect(r.text).toContain("tmp ok");
  });

  it("cannot follow a symlink out of the sandbox", async () => {
    await attempt(
      "symlink out",
      py([
        "import os",
        `targets = ['/etc/shadow', ${JSON.stringify(meshConfig)}, '/proc/1/root/etc/shadow', ` +
          `'/proc/self/root/etc/passwd', '/proc/1/cwd/../etc/shadow']`,
        "for i, t in enumerate(targets):",
        "    os.symlink(t, f'/tmp/l{i}')",
        "    try:",
        "        print('ESCAPED', open(f'/tmp/l{i}').read()[:40])",
        "    except OSError as e:",
        "        print('no', t, type(e).__name__)",
      ]),
    );
  });

  it("cannot see the host's processes or read another process's /proc/<pid>/environ", async () => {
    const r = await attempt(
      "proc environ",
      py([
        "import os",
        "pids = [p for p in os.listdir('/proc') if p.isdigit()]",
        "print('pids', pids)",
        `if '${process.pid}' in pids and len(pids) > 3: print('ESCAPED host pid visible')`,
        `for p in ['/proc/${process.pid}/environ', '/proc/1/environ'] + [f'/proc/{q}/environ' for q in pids]:`,
        "    try:",
        "        data = open(p, 'rb').read()",
        `        if b'${SECRET}' in data: print('ESCAPED', p)`,
        "    except OSError as e:",
        "        print('no', p, type(e).__name__)",
      ]),
    );
    const pids = /pids \[([^\]]*)\]/.exec(r.text)![1]!.split(",").length;
    expect(pids).toBeLessThanOrEqual(3);
  });

  it("has a cleared environment without the host's secrets", async () => {
    await attempt(
      "env secrets",
      py([
        "import os",
        "print(sorted(os.environ))",
        `if any('${SECRET}' in v for v in os.environ.values()) or 'LYRA_COMPUTE_TEST_SECRET' in os.environ: print('ESCAPED env')`,
        "if set(os.environ) - {'PATH', 'HOME', 'TMPDIR', 'LANG', 'PWD', 'LC_CTYPE', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS'}: " +
          "print('ESCAPED extra env', sorted(os.environ))",
      ]),
    );
  });

  it("a fork bomb stops at the process limit and is killed; the host lives", async () => {
    const r = await attempt(
      "fork bomb",
      py([
        "import os",
        "n = 0",
        "try:",
        "    for _ in range(1000):",
        "        if os.fork() == 0:",
        "            import time; time.sleep(30); os._exit(0)",
        "        n += 1",
        "except OSError as e:",
        "    print('stopped after', n, e)",
        `if n >= ${TEST_LIMITS.processes}: print('ESCAPED forks', n)`,
        "while True:",
        "    try: os.fork()",
        "    except OSError: pass",
      ]),
    );
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/stopped after \d+/);
  });

  it("a memory bomb gets a MemoryError", async () => {
    const r = await attempt(
      "memory bomb",
      py([
        "blocks = []",
        "try:",
        "    while True: blocks.append(bytearray(16 * 1024 * 1024))",
        "except MemoryError:",
        "    n = len(blocks); blocks.clear()",
        `    print('held', n * 16, 'MiB'); print('ESCAPED' if n * 16 > ${TEST_LIMITS.memory_mb} else 'capped')`,
        "x = ' ' * (10 ** 10)",
      ]),
    );
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/capped[\s\S]*MemoryError/);
  });

  it("an infinite loop is stopped by the CPU or wall-clock limit", async () => {
    const r = await attempt("infinite loop", "while True: pass");
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/CPU time limit|wall-clock limit/);
  });

  it("an infinite loop that ignores SIGXCPU is still stopped", async () => {
    const r = await attempt("ignore sigxcpu", py(["import signal", "signal.signal(signal.SIGXCPU, signal.SIG_IGN)", "while True: pass"]));
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/CPU time limit|wall-clock limit/);
  });

  it("a sleeping call is killed at the wall-clock limit", async () => {
    const r = await attempt("sleep", "import time; time.sleep(3600)");
    expect(r.text).toMatch(/wall-clock limit \(6 s\)/);
  });

  it("100 MB of output is cut at the cap and the code killed", async () => {
    const r = await attempt("100 MB output", "import sys\nfor _ in range(100): sys.stdout.write('x' * 1024 * 1024)");
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/output passed the limit \(65536 bytes\)/);
    expect(r.text.length).toBeLessThan(TEST_LIMITS.max_output_bytes + 1000);
  });

  it("output from a child process and stderr count towards the cap too", async () => {
    const r = await attempt("child output", "import os\nos.system('yes 0123456789abcdef 1>&2')");
    expect(r.text).toMatch(/output passed the limit|wall-clock limit/);
    expect(r.text.length).toBeLessThan(TEST_LIMITS.max_output_bytes + 1000);
  });

  it("cannot kill its parent, the sandbox's init, or the host", async () => {
    await attempt(
      "kill parent",
      py([
        "import os, signal",
        `for pid in [os.getppid(), 1, ${process.pid}, ${f.host.servers()[0]?.pid ?? process.pid}]:`,
        "    try:",
        "        os.kill(pid, signal.SIGKILL); print('sent', pid)",
        "    except OSError as e:",
        "        print('no', pid, type(e).__name__)",
        "try:",
        "    os.kill(-1, signal.SIGKILL)",
        "except OSError as e:",
        "    print('no -1', type(e).__name__)",
      ]),
    );
    expect(process.kill(process.pid, 0)).toBe(true);
  });

  it("cannot ptrace the host process", async () => {
    await attempt(
      "ptrace",
      py([
        "import ctypes, os",
        "libc = ctypes.CDLL(None, use_errno=True)",
        `for pid in [${process.pid}, ${process.ppid}]:`,
        "    r = libc.ptrace(16, pid, None, None)  # PTRACE_ATTACH",
        "    print('ESCAPED attached', pid) if r == 0 else print('no', pid, os.strerror(ctypes.get_errno()))",
        `r = os.open('/proc/${process.pid}/mem', os.O_RDONLY) ` +
          `if os.path.exists('/proc/${process.pid}/mem') and ${process.pid} > 10 else -1`,
        "print('ESCAPED mem') if r >= 0 else print('no mem')",
      ]),
    );
  });

  it("runs out of file descriptors at the limit", async () => {
    const r = await attempt(
      "fd exhaustion",
      py([
        "import os",
        "fds = []",
        "try:",
        "    while True: fds.append(os.open('/dev/null', os.O_RDONLY))",
        "except OSError as e:",
        "    print('stopped at', len(fds), e)",
        "print('ESCAPED fds') if len(fds) > 256 else None",
      ]),
    );
    expect(r.text).toMatch(/stopped at \d+ \[Errno 24\]/);
  });

  it("cannot write to /proc/sys or /sys", async () => {
    await attempt(
      "proc sys",
      py([
        "for p in ['/proc/sys/kernel/hostname', '/proc/sys/vm/drop_caches', " +
          "'/proc/sysrq-trigger', '/sys/kernel/mm/transparent_hugepage/enabled']:",
        "    try:",
        "        open(p, 'w').write('1'); print('ESCAPED', p)",
        "    except OSError as e:",
        "        print('no', p, type(e).__name__)",
      ]),
    );
  });

  it("cannot mount, chroot or make new namespaces", async () => {
    await attempt(
      "mount",
      py([
        "import ctypes, os",
        "libc = ctypes.CDLL(None, use_errno=True)",
        "os.makedirs('/tmp/m', exist_ok=True)",
        "print('ESCAPED mount') " +
          "if libc.mount(b'none', b'/tmp/m', b'tmpfs', 0, None) == 0 else print('no mount', os.strerror(ctypes.get_errno()))",
        "print('ESCAPED remount') " +
          "if libc.mount(None, b'/usr', None, 0x20 | 0x1000, None) == 0 else print('no remount', os.strerror(ctypes.get_errno()))",
        "print('ESCAPED chroot') if libc.chroot(b'/tmp') == 0 else print('no chroot')",
        "for flag, name in [(0x10000000, 'user'), (0x00020000, 'mount'), (0x40000000, 'net')]:",
        "    print('ESCAPED unshare', name) if libc.unshare(flag) == 0 else print('no unshare', name, os.strerror(ctypes.get_errno()))",
      ]),
    );
  });

  it("cannot become root (setuid, setuid binaries)", async () => {
    await attempt(
      "setuid",
      py([
        "import os, subprocess",
        "for f in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.seteuid(0)):",
        "    try:",
        "        f(); print('ESCAPED uid', os.getuid(), os.geteuid())",
        "    except OSError as e:",
        "        print('no', e)",
        "for cmd in (['su', '-c', 'id'], ['sudo', 'id'], ['mount', '-t', 'tmpfs', 'none', '/tmp']):",
        "    try:",
        "        r = subprocess.run(cmd, capture_output=True, timeout=3)",
        "        print('ESCAPED', cmd) if r.returncode == 0 and b'uid=0' in r.stdout else print('no', cmd[0], r.returncode)",
        "    except Exception as e:",
        "        print('no', cmd[0], type(e).__name__)",
        "print('ESCAPED caps') " +
          "if open('/proc/self/status').read().split('CapEff:')[1].split()[0] != '0000000000000000' else print('no caps')",
      ]),
    );
  });

  it("cannot read raw devices or the kernel log", async () => {
    await attempt(
      "devices",
      py([
        "import os",
        "for p in ['/dev/mem', '/dev/kmem', '/dev/sda', '/dev/nvme0n1', '/dev/kmsg', '/dev/port']:",
        "    try:",
        "        os.open(p, os.O_RDONLY); print('ESCAPED', p)",
        "    except OSError as e:",
        "        print('no', p, type(e).__name__)",
      ]),
    );
  });

  it("cannot fill the disk: /tmp and any one file are capped", async () => {
    const r = await attempt(
      "disk fill",
      py([
        "try:",
        "    with open('/tmp/big', 'wb') as fh:",
        "        for _ in range(1024): fh.write(b'x' * 1024 * 1024)",
        "except OSError as e:",
        "    print('stopped:', e)",
        "import os; size = os.path.getsize('/tmp/big'); print('size', size)",
        `print('ESCAPED disk') if size > ${TEST_LIMITS.tmp_mb} * 1024 * 1024 else None`,
      ]),
    );
    expect(r.text).toMatch(/stopped: \[Errno (27|28)\]/);
  });

  it("leaves no process behind: a daemon it starts dies with the sandbox", async () => {
    const mark = `${Math.floor(Math.random() * 1e6)}.4242`;
    await attempt(
      "daemon",
      py([
        "import os",
        "if os.fork() == 0:",
        "    os.setsid()",
        "    if os.fork() == 0:",
        `        os.execv('/usr/bin/sleep', ['sleep', '${mark}'])`,
        "    os._exit(0)",
        "print('started')",
      ]),
    );
    const left = () =>
      readdirSync("/proc").filter((p) => {
        if (!/^\d+$/.test(p)) return false;
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(mark);
        } catch {
          return false;
        }
      });
    await eventually("the sandboxes' processes to be gone", () => left().length === 0, { timeoutMs: 5000 });
    expect(left()).toEqual([]);
  });

  it("cannot keep anything between calls (one call's /tmp is gone in the next)", async () => {
    await f.call("compute", "python", { code: "open('/tmp/left', 'w').write('x')" });
    await attempt("state between calls", "import os\nprint('ESCAPED state') if os.path.exists('/tmp/left') else print('fresh')");
  });
});
