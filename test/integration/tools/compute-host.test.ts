/**
 * The compute server as `lyra tools` runs it on a host: a process that inherited a descriptor
 * without close-on-exec must not hand it to sandboxed code; forking memory bombs in concurrent
 * calls stay within memory_total_mb together (a cgroup v2 where the host allows one, else a config
 * whose rlimits could pass it is refused); `lyra status` says which bounds hold on this host.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createMcpClient, type McpClient } from "../../../tools/client.ts";
import type { DiscoveredToolServer } from "../../../tools/discovery.ts";
import { LYRA_CLI, runLyra } from "../../harness/committee-fixture.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { agentYaml, childEnv, within, writeTempFile } from "../agents/helpers.ts";
import { requireSandboxTools, TEST_LIMITS } from "./compute-fixture.ts";
import { mcpRequest } from "./helpers.ts";

let nats: NatsServer;
let mesh: Mesh;
let mcp: McpClient;
let tools: ChildProcess;
let dir: string;
let planted: string;
let output = "";

/** Bomb servers: by their rlimits `big` can pass the total (2 × (16 × 128 + 8) = 4112 MiB), `fits` cannot (2 × (5 × 128 + 8) = 1296). */
const TOTAL_MB = 1536;
const BIG = { ...TEST_LIMITS, wall_s: 20, memory_mb: 128, processes: 16, max_concurrent: 2, memory_total_mb: TOTAL_MB };
const FITS = { ...BIG, processes: 5 };

beforeAll(async () => {
  requireSandboxTools();
  nats = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: nats.url });
  mcp = createMcpClient(mesh, { tenant: "test", user: "tester" });
  const doc = parse(agentYaml({ natsUrl: nats.url, ollamaUrl: "http://127.0.0.1:1" })) as Record<string, unknown>;
  doc.tools = {
    servers: {
      compute: { builtin: "compute", options: TEST_LIMITS },
      big: { builtin: "compute", options: BIG },
      fits: { builtin: "compute", options: FITS },
    },
  };
  const config = writeTempFile(stringify(doc), "tools.yaml");
  dir = mkdtempSync(join(tmpdir(), "lyra-compute-fd-"));
  planted = join(dir, "host-file");
  // fds 3 and 40 of lyra tools: a host file opened by whoever started it, without close-on-exec
  // (the spawn's dup2 clears the flag), as a careless supervisor or shell redirection leaves one.
  // Node marks fds 0..15 close-on-exec at start and stops at the first gap after them, so fd 40
  // (past a gap) stays inheritable, as it would from any parent.
  const fd = openSync(planted, "w");
  tools = spawn(process.execPath, [LYRA_CLI, "tools", "--config", config, "--host", "fd-host", "--metrics-port", "0"], {
    env: { ...process.env, LYRA_LOG_LEVEL: "info", ...childEnv() },
    stdio: ["ignore", "pipe", "pipe", fd, ...Array<"ignore">(36).fill("ignore"), fd],
  });
  closeSync(fd);
  tools.stdout!.on("data", (b: Buffer) => (output += b.toString()));
  tools.stderr!.on("data", (b: Buffer) => (output += b.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => (/lyra tools ready/.test(output) ? resolve() : undefined);
    tools.stdout!.on("data", check);
    tools.stderr!.on("data", check);
    tools.once("exit", (code) => reject(new Error(`lyra tools exited (${code}) before it was ready:\n${output}`)));
  });
  await within(ready, 60_000, "lyra tools");
});

afterAll(async () => {
  if (tools && tools.exitCode === null) {
    const exited = new Promise((r) => tools.once("exit", r));
    tools.kill("SIGTERM");
    await exited;
  }
  await mesh?.close();
  await nats?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function python(code: string, server = "compute"): Promise<{ text: string; isError: boolean }> {
  const r = await mcp.request(server, mcpRequest("tools/call", { name: "python", arguments: { code } }), { timeoutMs: 60_000 });
  if ("error" in r) throw new Error(`JSON-RPC error ${r.error.code}: ${r.error.message}`);
  const res = r.result as { content: { text: string }[]; isError?: boolean };
  return { text: res.content.map((c) => c.text).join("\n"), isError: res.isError ?? false };
}

/** The host's processes below `root` (the sandboxes of lyra tools), from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited while listed
    }
  }
  const out: number[] = [];
  for (let todo = [root]; todo.length;) {
    const kids = todo.flatMap((p) => children.get(p) ?? []);
    out.push(...kids);
    todo = kids;
  }
  return out;
}

/** Host memory the processes hold, MiB: the sum of their PSS (shared pages counted once overall). */
function pssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
    } catch {
      // exited while read
    }
  }
  return kb / 1024;
}

/** Every child allocates (touching each page) until it is refused, then holds it; the parent waits until all hold. */
const MEMORY_BOMB = [
  "import os, time",
  "r, w = os.pipe()",
  "kids = []",
  "for _ in range(64):",
  "    try:",
  "        pid = os.fork()",
  "    except OSError:",
  "        break",
  "    if pid == 0:",
  "        held = []",
  "        try:",
  "            while True: held.append(b'x' * (8 << 20))",
  "        except MemoryError:",
  "            pass",
  "        os.write(w, b'.')",
  "        time.sleep(60)",
  "        os._exit(0)",
  "    kids.append(pid)",
  "os.close(w)",
  "n = 0",
  "while n < len(kids):",
  "    b = os.read(r, 64)",
  "    if not b: break",
  "    n += len(b)",
  "print('children', len(kids), 'holding', n)",
  "time.sleep(2)",
].join("\n");

async function statusJson(): Promise<DiscoveredToolServer[]> {
  const st = runLyra(["status", "--nats", nats.url, "--json"], childEnv());
  await within(st.exited, 30_000, "lyra status --json");
  return (JSON.parse(st.stdout()) as { tool_servers: DiscoveredToolServer[] }).tool_servers;
}

describe("compute under lyra tools", () => {
  it("closes descriptors lyra tools inherited: sandboxed code cannot write into the host file behind fds 3 and 40", async () => {
    const r = await python(
      [
        "import os",
        "links = {}",
        "for fd in sorted(int(n) for n in os.listdir('/proc/self/fd')):",
        "    try:",
        "        links[fd] = os.readlink(f'/proc/self/fd/{fd}')",
        "    except OSError:",
        "        continue",
        "    if fd < 3: continue",
        "    try:",
        "        os.write(fd, b'written from the sandbox\\n')",
        "    except OSError:",
        "        pass",
        "print('open', links)",
      ].join("\n"),
    );
    console.log(`compute fd test: descriptors above stdio seen inside the sandbox: ${r.text}`);
    expect(r.isError, r.text).toBe(false);
    expect(readFileSync(planted, "utf8")).toBe("");
    expect(r.text).not.toContain(planted);
  });

  it("forking memory bombs in two concurrent calls stay within memory_total_mb together", async () => {
    const servers = await statusJson();
    const big = servers.find((t) => t.server === "big")!;
    const cgroup = big.state === "up" && /^cgroup v2/.test(big.metadata.limits ?? "");
    // Without a cgroup, a config whose rlimits could pass the total never starts; with one, the cgroup holds it.
    if (!cgroup) {
      expect(big.state).toBe("failed");
      expect(big.error).toMatch(
        new RegExp(
          `no cgroup can bound the sandboxes on this host .* = 4112 MiB, more than memory_total_mb \\(${TOTAL_MB}\\); lower memory_mb`,
        ),
      );
    }
    const server = cgroup ? "big" : "fits";
    let peak = 0;
    let samples = 0;
    let done = false;
    const calls = Promise.all([1, 2].map(() => python(MEMORY_BOMB, server))).finally(() => (done = true));
    while (!done) {
      peak = Math.max(peak, pssMb(descendants(tools.pid!)));
      samples++;
      await new Promise((r) => setTimeout(r, 25));
    }
    const results = await calls;
    // With a cgroup, the kernel's own high-water mark of the group counts too (tmpfs and page cache included).
    const dir = /^cgroup v2 (\S+):/.exec(big.metadata.limits ?? "")?.[1];
    // memory.peak: kernel 5.19+
    const cgroupPeak = dir && existsSync(`${dir}/memory.peak`) ? Number(readFileSync(`${dir}/memory.peak`, "utf8")) / 2 ** 20 : 0;
    console.log(
      `compute memory bomb on '${server}' (${cgroup ? `cgroup v2, memory.peak ${cgroupPeak.toFixed(0)} MiB` : "rlimits"}): ` +
        `peak ${peak.toFixed(0)} MiB of sandbox PSS over ${samples} samples, ` +
        `memory_total_mb ${TOTAL_MB}; ${results.map((r) => r.text.split("\n")[0]).join(" / ")}`,
    );
    expect(cgroupPeak).toBeLessThanOrEqual(TOTAL_MB);
    // The bomb pressed the bound: children held memory (rlimits), or the group filled (a cgroup may OOM-kill them instead).
    if (cgroup) expect(Math.max(cgroupPeak, peak)).toBeGreaterThan(TOTAL_MB / 2);
    else
      expect(
        results.some((r) => /children \d+ holding [1-9]/.test(r.text)),
        results.map((r) => r.text).join("\n"),
      ).toBe(true);
    expect(peak).toBeLessThanOrEqual(TOTAL_MB);
    expect(await python("6 * 7", server)).toEqual({ text: "42", isError: false });
  });

  it("lyra status says which bounds hold on this host", async () => {
    const st = runLyra(["status", "--nats", nats.url], childEnv());
    await within(st.exited, 30_000, "lyra status");
    const line = st
      .stdout()
      .split("\n")
      .find((l) => l.startsWith("  compute@fd-host limits: "));
    console.log(`lyra status:${line}`);
    expect(line).toMatch(
      new RegExp(
        String.raw`limits: (cgroup v2 \S+: memory\.max 3584 MiB, pids\.max 18 for all sandboxes together|` +
          String.raw`rlimits \(no cgroup: .+\): 2 sandboxes \(max_concurrent 2\) × ` +
          String.raw`\(memory_mb 128 × processes 8 \+ tmp_mb 8\) = 2064 MiB ≤ memory_total_mb 3584); ` +
          String.raw`descriptors above stdio closed before the sandbox starts$`,
      ),
    );
  });
});
