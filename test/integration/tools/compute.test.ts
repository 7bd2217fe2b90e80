/** The compute server over NATS: bad inputs to python and calculate, sessions, and refusing without a sandbox. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../mesh/logger.ts";
import { createMcpClient } from "../../../tools/client.ts";
import { parseComputeOptions, startSandbox } from "../../../tools/builtin/compute/index.ts";
import { startToolHost } from "../../../tools/host.ts";
import { as, computeFixture, SESSION_LIMITS, TEST_LIMITS, type ComputeFixture } from "./compute-fixture.ts";
import { mcpRequest } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

/** Pids of host processes whose command line holds `mark`. */
function running(mark: string): string[] {
  return readdirSync("/proc").filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(mark);
    } catch {
      return false;
    }
  });
}

let f: ComputeFixture;
beforeAll(async () => {
  f = await computeFixture({
    compute: TEST_LIMITS,
    sessions: { ...SESSION_LIMITS, session_idle_s: 600 },
    shortidle: { ...SESSION_LIMITS, session_idle_s: 1 },
    nobwrap: { bwrap_path: "/nonexistent/bwrap" },
    nopython: { python_path: "/nonexistent/python3" },
    failedprobe: { bwrap_path: "/usr/bin/false" }, // present, but no sandbox comes up
    badopts: { cpu_s: 0 },
    slowcalc: { calculate_timeout_ms: 50 },
  });
});
afterAll(async () => {
  await f?.close();
});

describe("compute: python", () => {
  it("runs code and shows output and the last expression", async () => {
    expect(await f.call("compute", "python", { code: "print('hi')\nsum(range(10))" })).toEqual({ text: "hi\n45", isError: false });
    expect(await f.call("compute", "python", { code: "x = 1" })).toEqual({ text: "(no output)", isError: false });
    const fr = await f.call("compute", "python", { code: "from fractions import Fraction as F\nF(1, 3) + F(1, 6)" });
    expect(fr.text).toBe("Fraction(1, 2)");
    // The code's own __main__: its classes pickle, and rebinding names the driver uses breaks nothing.
    const own = await f.call("compute", "python", {
      code: "import pickle\nclass P: pass\njson = run = None\ntype(pickle.loads(pickle.dumps(P()))).__name__",
    });
    expect(own).toEqual({ text: "'P'", isError: false });
  });

  it("answers bad inputs with a tool error that says why, and keeps serving", async () => {
    const bad: [unknown, RegExp][] = [
      [{}, /code/],
      [{ code: "" }, /empty/],
      [{ code: 42 }, /code/],
      [{ code: null }, /code/],
      [{ code: ["print(1)"] }, /code/],
      [{ code: "x".repeat(100_001) }, /code/],
      [{ code: "1", reset: "yes" }, /reset/],
      [{ code: "def f(:" }, /SyntaxError/],
      [{ code: "  indented = 1\nx = 2" }, /IndentationError/],
      [{ code: "undefined_name" }, /NameError: name 'undefined_name'/],
      [{ code: "1 / 0" }, /ZeroDivisionError/],
      [{ code: "import numpy_that_does_not_exist" }, /ModuleNotFoundError/],
      [{ code: "raise ValueError('bad value')" }, /ValueError: bad value/],
      [{ code: "import sys; sys.exit(3)" }, /SystemExit: 3/],
      [{ code: "raise KeyboardInterrupt" }, /KeyboardInterrupt/],
      [{ code: "def f(): return f()\nf()" }, /RecursionError/],
      [{ code: "import os; os._exit(1)" }, /sandbox ended \(exit code 1\)/],
      [{ code: "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)" }, /SIGSEGV/],
      [{ code: "open('/nonexistent/file')" }, /FileNotFoundError/],
      [{ code: "'\\ud800'" }, /./],
      [{ code: "input()" }, /EOFError/],
      [{ code: "\u0000" }, /SyntaxError|ValueError/],
      [{ code: "import os; os.close(1); os.close(2); print('x')" }, /./],
    ];
    expect(bad.length).toBeGreaterThanOrEqual(20);
    let i = 0;
    for (const [args, why] of bad) {
      const r = await f.call("compute", "python", args);
      const label = `#${i++} ${JSON.stringify(args).slice(0, 60)}`;
      if (label.includes("ud800") || label.includes("os.close(1)")) {
        // Either a result or a clear error, never a hang or a crash of the host.
        expect(r.text.length, label).toBeGreaterThan(0);
        continue;
      }
      expect(r.isError, `${label}: ${r.text}`).toBe(true);
      expect(r.text, label).toMatch(why);
    }
    expect(await f.call("compute", "python", { code: "6 * 7" })).toEqual({ text: "42", isError: false });
  });

  it("counts processes per sandbox: calls running at once each get the whole process limit", async () => {
    const code = [
      "import os, signal, time",
      "kids = []",
      "try:",
      `    for _ in range(${TEST_LIMITS.processes + 4}):`,
      "        pid = os.fork()",
      "        if pid == 0:",
      "            time.sleep(20); os._exit(0)",
      "        kids.append(pid)",
      "except OSError:",
      "    pass",
      "time.sleep(1)",
      "for k in kids: os.kill(k, signal.SIGKILL)",
      "len(kids)",
    ].join("\n");
    const counts = await Promise.all([1, 2, 3].map(() => f.call("compute", "python", { code })));
    for (const r of counts) {
      expect(r.isError, r.text).toBe(false);
      const n = Number(r.text);
      expect(n).toBeGreaterThanOrEqual(TEST_LIMITS.processes - 4);
      expect(n).toBeLessThan(TEST_LIMITS.processes);
    }
  });

  it("refuses with the reason when bubblewrap or python3 is missing, and never runs the code", async () => {
    for (const server of ["nobwrap", "nopython"]) {
      const r = await f.call(server, "python", { code: "print('ran')" });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(
        /python is unavailable on this host: \/nonexistent\/(bwrap|python3) is missing or not executable: install (bubblewrap|python3)/,
      );
      expect(r.text).toMatch(/never run outside the sandbox/);
      expect(r.text).not.toMatch(/^ran/m);
      // calculate needs no sandbox.
      expect(await f.call(server, "calculate", { expression: "1/3 + 1/6" })).toEqual({ text: "0.5 (= 1/2)", isError: false });
    }
  });

  it("stopping the host kills the sandboxes of calls in flight and of sessions", async () => {
    const host = await startToolHost(f.mesh, {
      tenant: "t",
      host: "h2",
      servers: { stopme: { builtin: "compute", options: SESSION_LIMITS } },
      log: silentLogger,
    });
    const mcp = createMcpClient(f.mesh, { tenant: "t" });
    const marks = [`${Date.now() % 1e6}.111`, `${Date.now() % 1e6}.222`];
    const spawnSleep = (mark: string) =>
      `import subprocess\nsubprocess.Popen(['/usr/bin/sleep', '${mark}'])\nimport time\ntime.sleep(3600)`;
    // One call without a conversation (one-shot), one in a session.
    const calls = marks.map((mark, i) =>
      mcp.request(
        "stopme",
        mcpRequest("tools/call", { name: "python", arguments: { code: spawnSleep(mark) }, _meta: i ? as("u", "c") : {} }),
        { timeoutMs: 30_000 },
      ),
    );
    await eventually("both sandboxes to start", () => marks.every((m) => running(m).length > 0), { timeoutMs: 30_000 });
    await host.close();
    await mcp.close();
    await Promise.allSettled(calls);
    await eventually("the sandboxes to be gone", () => marks.every((m) => running(m).length === 0), { timeoutMs: 30_000 });
  });

  it("the launcher joins the cgroup it is given before bwrap starts, and a cgroup it cannot join stops the sandbox", async () => {
    // A stand-in directory (this host may have no cgroup v2): the launcher writes its own pid, which
    // setpriv and bwrap keep across exec, into <dir>/cgroup.procs, as it does in the real group.
    const dir = mkdtempSync(join(tmpdir(), "lyra-fake-cgroup-"));
    writeFileSync(join(dir, "cgroup.procs"), ""); // the kernel's file exists; the launcher never creates it
    try {
      const o = parseComputeOptions("compute", TEST_LIMITS);
      const box = startSandbox(o, false, dir);
      expect(await box.run("6 * 7")).toMatchObject({ ok: true, value: "42" });
      box.kill();
      await box.exited;
      expect(readFileSync(join(dir, "cgroup.procs"), "utf8")).toMatch(/^\d+$/);
      const lost = startSandbox(o, false, join(dir, "gone"));
      const r = await lost.run("print('ran')");
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/the sandbox ended \(exit code 1\): .*FileNotFoundError.*gone\/cgroup\.procs/);
      expect(r.output).not.toContain("ran");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses when the sandbox's self-test fails at start", async () => {
    const r = await f.call("failedprobe", "python", { code: "print('ran')" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/python is unavailable on this host: the sandbox self-test failed: the sandbox ended \(exit code 1\)/);
    expect(r.text).not.toMatch(/^ran/m);
  });

  it("a bad option leaves the server failed with the option to fix", () => {
    const s = f.host.servers().find((x) => x.server === "badopts")!;
    expect(s.state).toBe("failed");
    expect(s.error).toMatch(/tools\.servers\.badopts\.options\.cpu_s is 0/);
  });
});

describe("compute: sessions", () => {
  it("keep variables between calls of one conversation", async () => {
    const c = as("alice", "s1");
    const first = await f.call("sessions", "python", { code: "x = 41\ndef inc(v): return v + 1" }, c);
    expect(first.text).toContain("[new Python session for this conversation]");
    expect(await f.call("sessions", "python", { code: "inc(x)" }, c)).toEqual({ text: "42", isError: false });
    // reset: a fresh session
    const reset = await f.call("sessions", "python", { code: "x", reset: true }, c);
    expect(reset.isError).toBe(true);
    expect(reset.text).toMatch(/NameError/);
  });

  it("are isolated between conversations and users", async () => {
    await f.call("sessions", "python", { code: "secret = 'alice-s2'" }, as("alice", "s2"));
    for (const other of [as("alice", "s3"), as("bob", "s2")]) {
      const r = await f.call(
        "sessions",
        "python",
        { code: "import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]))\nsecret" },
        other,
      );
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/NameError: name 'secret'/);
      expect(Number(/\n(\d+)\n/.exec(r.text)?.[1] ?? /^(\d+)/m.exec(r.text)![1])).toBeLessThanOrEqual(3);
    }
    expect((await f.call("sessions", "python", { code: "secret" }, as("alice", "s2"))).text).toBe("'alice-s2'");
  });

  it("keep per-call limits: a runaway call ends its session and says so; the next call starts afresh", async () => {
    const c = as("carol", "s4");
    await f.call("sessions", "python", { code: "kept = 1" }, c);
    const r = await f.call("sessions", "python", { code: "import time\ntime.sleep(3600)" }, c);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/wall-clock limit[\s\S]*the session was ended/);
    const next = await f.call("sessions", "python", { code: "'kept' in globals()" }, c);
    expect(next.text).toBe("[new Python session for this conversation]\nFalse");
  });

  it("end when idle past session_idle_s", async () => {
    const c = as("dave", "s5");
    await f.call("shortidle", "python", { code: "y = 7" }, c);
    await sleep(2500);
    const r = await f.call("shortidle", "python", { code: "'y' in globals()" }, c);
    expect(r.text).toBe("[new Python session for this conversation]\nFalse");
  });

  it("hold at most max_sessions; the least recently used is ended for a new one", async () => {
    for (const conv of ["m1", "m2", "m3"]) await f.call("sessions", "python", { code: `v = '${conv}'` }, as("erin", conv));
    await f.call("sessions", "python", { code: "v" }, as("erin", "m1")); // m2 is now the least recently used
    await f.call("sessions", "python", { code: "v = 'm4'" }, as("erin", "m4"));
    expect((await f.call("sessions", "python", { code: "v" }, as("erin", "m1"))).text).toBe("'m1'");
    const m2 = await f.call("sessions", "python", { code: "'v' in globals()" }, as("erin", "m2"));
    expect(m2.text).toBe("[new Python session for this conversation]\nFalse");
  });

  it("without a conversation id, a call runs once without a session", async () => {
    await f.call("sessions", "python", { code: "z = 1" });
    const r = await f.call("sessions", "python", { code: "'z' in globals()" });
    expect(r).toEqual({ text: "False", isError: false });
  });
});

describe("compute: calculate", () => {
  it("is exact and converts units", async () => {
    const cases: [string, string][] = [
      ["0.1 + 0.2", "0.3 (= 3/10)"],
      ["2^128", "340282366920938463463374607431768211456"],
      ["1/3", "1/3 ≈ 0.33333333333333333333…"],
      ["5 km to mi", "78125/25146 ≈ 3.1068559611866698480… mi"],
      ["100 degC to degF", "212 degF"],
    ];
    for (const [e, want] of cases) expect(await f.call("compute", "calculate", { expression: e })).toEqual({ text: want, isError: false });
  });

  it("answers bad inputs with a tool error that says why, and keeps serving", async () => {
    const bad: [unknown, RegExp][] = [
      [{}, /expression/],
      [{ expression: "" }, /empty/],
      [{ expression: "   " }, /empty/],
      [{ expression: 42 }, /expression/],
      [{ expression: "x".repeat(1001) }, /expression/],
      [{ expression: "2 +" }, /a number is missing at the end/],
      [{ expression: "(1 + 2" }, /expected '\)'/],
      [{ expression: "1 + 2)" }, /unexpected '\)'/],
      [{ expression: "1 / 0" }, /division by zero/],
      [{ expression: "2 ^ 0.5" }, /whole-number exponents/],
      [{ expression: "sqrt(2)" }, /not a rational number/],
      [{ expression: "sqrt(-4)" }, /not real/],
      [{ expression: "5 km to kg" }, /cannot convert m to 'kg' \(kg\)/],
      [{ expression: "5 km + 3 kg" }, /cannot add kg to m/],
      [{ expression: "foo + 1" }, /unknown name 'foo'/],
      [{ expression: "10 ^ 100000" }, /power is too large/],
      [{ expression: "100000!" }, /factorial needs a whole number from 0 to 3000/],
      [{ expression: "(-1)!" }, /factorial needs a whole number/],
      [{ expression: "1.5!" }, /whole number/],
      [{ expression: "1 $ 2" }, /unexpected '\$' at position 3/],
      [{ expression: "abs(1, 2)" }, /takes one argument/],
      [{ expression: "gcd(1.5, 2)" }, /gcd needs a whole number/],
      [{ expression: "20 degC + 5 degC" }, /convert only as plain temperatures/],
      [{ expression: "5 km to 3 m" }, /give only a unit/],
      [{ expression: "1e99999" }, /exponent .* too large/],
      [{ expression: "(".repeat(100) + "1" + ")".repeat(100) }, /nests deeper/],
      [{ expression: "5 m to" }, /needs a unit/],
      [{ expression: "import os" }, /unknown name 'import'/],
      [{ expression: "__import__('os')" }, /unexpected ''' at position 12/],
    ];
    expect(bad.length).toBeGreaterThanOrEqual(20);
    for (const [args, why] of bad) {
      const r = await f.call("compute", "calculate", args);
      expect(r.isError, `${JSON.stringify(args).slice(0, 60)}: ${r.text}`).toBe(true);
      expect(r.text, JSON.stringify(args).slice(0, 60)).toMatch(why);
    }
    expect(await f.call("compute", "calculate", { expression: "6 * 7" })).toEqual({ text: "42", isError: false });
  });

  it("stops an expression past calculate_timeout_ms (in its worker thread) and serves the next", async () => {
    // 124 factorials of 3000 (each about 30,000 bits): about 250 ms on this 2-core machine, 5 times the 50 ms limit.
    const slow = Array.from({ length: 124 }, () => "3000!*0").join("+");
    const r = await f.call("slowcalc", "calculate", { expression: slow });
    expect(r).toEqual({
      text: expect.stringMatching(/took longer than 0\.05 s and was stopped; use smaller numbers/) as string,
      isError: true,
    });
    expect(await f.call("slowcalc", "calculate", { expression: "2^10" })).toEqual({ text: "1024", isError: false });
  });
});
