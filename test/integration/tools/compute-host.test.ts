/**
 * The compute server as `lyra tools` runs it on a host: a process that inherited a descriptor
 * without close-on-exec must not hand it to sandboxed code, and `lyra status` says which bounds
 * hold on this host.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createMcpClient, type McpClient } from "../../../tools/client.ts";
import { LYRA_CLI } from "../../harness/committee.ts";
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

beforeAll(async () => {
  requireSandboxTools();
  nats = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: nats.url });
  mcp = createMcpClient(mesh, { tenant: "test", user: "tester" });
  const doc = parse(agentYaml({ natsUrl: nats.url, ollamaUrl: "http://127.0.0.1:1" })) as Record<string, unknown>;
  doc.tools = { servers: { compute: { builtin: "compute", options: TEST_LIMITS } } };
  const config = writeTempFile(stringify(doc), "tools.yaml");
  dir = mkdtempSync(join(tmpdir(), "lyra-compute-fd-"));
  planted = join(dir, "host-file");
  // fds 3 and 40 of lyra tools: a host file opened by whoever started it, without close-on-exec
  // (the spawn's dup2 clears the flag), as a careless supervisor or shell redirection leaves one.
  // Node marks fds 0..15 close-on-exec at start and stops at the first gap after them, so fd 40
  // (past a gap) stays inheritable, as it would from any parent.
  const fd = openSync(planted, "w");
  tools = spawn(process.execPath, [LYRA_CLI, "tools", "--config", config, "--only", "compute", "--host", "fd-host", "--metrics-port", "0"], {
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
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function python(code: string): Promise<{ text: string; isError: boolean }> {
  const r = await mcp.request("compute", mcpRequest("tools/call", { name: "python", arguments: { code } }), { timeoutMs: 60_000 });
  if ("error" in r) throw new Error(`JSON-RPC error ${r.error.code}: ${r.error.message}`);
  const res = r.result as { content: { text: string }[]; isError?: boolean };
  return { text: res.content.map((c) => c.text).join("\n"), isError: res.isError ?? false };
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
});
