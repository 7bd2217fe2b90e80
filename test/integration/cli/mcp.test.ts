/**
 * `lyra mcp` as MCP clients use it: the real MCP inspector in CLI mode (SDK 1.x, 2025-era
 * `initialize`) and the SDK v2's own stdio Client, both reaching a clock tool server over NATS.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { clockServer, sdkHandler, serveMcp, type ToolServer } from "../../../tools/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { LYRA_CLI } from "../../harness/committee-fixture.ts";
import { statsServer } from "./stats-server.ts";
import { eventually } from "../../harness/eventually.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const BIN = join(ROOT, "node_modules/.bin");
const INSPECTOR = join(BIN, "mcp-inspector");

let nats: NatsServer;
let mesh: Mesh;
let clock: ToolServer;
let stats: ToolServer;
const ALL = ["clock__now", "clock__wait", "stats__range", "stats__sum"];
/** What the MCP client's child needs: Node 24 first on PATH, and the mesh's NATS. */
let env: Record<string, string>;

beforeAll(async () => {
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
  // Tenant 'lyra': the mesh name of config/mesh.dev.yaml, the config `lyra mcp` loads by default.
  clock = await serveMcp(mesh, { server: "clock", tenant: "lyra", host: "h1", handler: sdkHandler(() => clockServer()), keepAliveMs: 200 });
  stats = await serveMcp(mesh, { server: "stats", tenant: "lyra", host: "h2", handler: sdkHandler(() => statsServer()) });
  env = {
    ...(process.env as Record<string, string>),
    PATH: `${BIN}:${process.env.PATH ?? ""}`,
    NATS_URL: nats.url,
    LYRA_LOG_LEVEL: "warn",
  };
});
afterAll(async () => {
  await clock?.close();
  await stats?.close();
  await mesh?.close();
  await nats?.close();
});

function inspector(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(INSPECTOR, ["--cli", "-e", `NATS_URL=${nats.url}`, process.execPath, LYRA_CLI, "mcp", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.once("exit", (code) => resolve({ code, stdout, stderr })));
}

describe("lyra mcp", () => {
  it("the MCP inspector (CLI mode) lists the mesh's tools as server__tool", async () => {
    const r = await inspector(["--method", "tools/list"]);
    expect(r.code, r.stderr).toBe(0);
    const { tools } = JSON.parse(r.stdout) as { tools: { name: string; description: string; inputSchema: { properties: object } }[] };
    expect(tools.map((t) => t.name)).toEqual(ALL);
    expect(tools[0]!.description).toMatch(/current date and time/);
    expect(tools[0]!.inputSchema.properties).toHaveProperty("timezone");
  });

  it("the MCP inspector calls a mesh tool", async () => {
    const r = await inspector(["--method", "tools/call", "--tool-name", "clock__now", "--tool-arg", "timezone=UTC"]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { content: { type: string; text: string }[]; isError?: boolean };
    expect(res.isError ?? false).toBe(false);
    expect(res.content[0]!.text).toMatch(/\(UTC\)$/);
  });

  // The SDK Client defaults to the 2025 era (initialize); pinned, it speaks 2026-07-28 envelopes.
  describe.each([
    { era: "2025-11-25", opts: {} },
    { era: "2026-07-28", opts: { versionNegotiation: { mode: { pin: "2026-07-28" as const } } } },
  ])("with the SDK's own stdio Client, protocol $era", ({ era, opts }) => {
    let client: Client;
    let transport: StdioClientTransport;
    beforeAll(async () => {
      transport = new StdioClientTransport({ command: process.execPath, args: [LYRA_CLI, "mcp", "--nats", nats.url], env, stderr: "pipe" });
      client = new Client({ name: "mcp-test", version: "1.0.0" }, opts);
      await client.connect(transport);
      expect(client.getNegotiatedProtocolVersion()).toBe(era);
    });
    afterAll(async () => {
      await client?.close();
    });

    it("lists and calls a mesh tool; an unknown one is an error", async () => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(ALL);
      const res = await client.callTool({ name: "clock__now", arguments: { timezone: "Europe/Paris" } });
      expect(JSON.stringify(res.content)).toContain("Europe/Paris");
      await expect(client.callTool({ name: "nosuchtool", arguments: {} })).rejects.toThrow(/server__tool|<server>__<tool>/);
      await expect(client.callTool({ name: "ghost__now", arguments: {} })).rejects.toThrow(/no tool server 'ghost'/);
    });

    it("structured results reach the client in its era (a non-object result wrapped for 2025)", async () => {
      const sum = await client.callTool({ name: "stats__sum", arguments: { xs: [1, 2, 3] } });
      expect(sum.structuredContent).toEqual({ sum: 6 });
      const range = await client.callTool({ name: "stats__range", arguments: { n: 3 } });
      expect(range.structuredContent).toEqual(era === "2025-11-25" ? { result: [0, 1, 2] } : [0, 1, 2]);
      expect(JSON.stringify(range.content)).toContain("[0,1,2]");
    });

    it("passes progress notifications through, and cancellation back to the tool server", async () => {
      const progress: number[] = [];
      const res = await client.callTool(
        { name: "clock__wait", arguments: { seconds: 2 } },
        { onprogress: (p) => progress.push(p.progress) },
      );
      // lyra mcp writes every progress before the response, but the SDK Client handles a
      // notification a microtask late and drops one that shares a read with the response
      // (typescript-sdk#2580): the last progress may be lost, the first ones arrive.
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress).toEqual([1, 2].slice(0, progress.length));
      expect(JSON.stringify(res.content)).toContain("waited 2 s");

      const ac = new AbortController();
      const call = client.callTool(
        { name: "clock__wait", arguments: { seconds: 60 } },
        { signal: ac.signal, onprogress: () => ac.abort() },
      );
      await expect(call).rejects.toThrow();
      // The cancel travelled lyra mcp → {reply}.ctl → the tool server, which stopped the call.
      await eventually("the clock server's call to end", () => clock.inFlight() === 0, { timeoutMs: 5000 });
      expect(clock.inFlight()).toBe(0);
    });
  });
});
