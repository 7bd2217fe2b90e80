/**
 * `lyra tools`' stdio bridge on a real MCP server (server-everything, 2025-era) and a real
 * nats-server, driven by the MCP SDK's own client over NATS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/client";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { createMcpClient, type McpClient } from "../../../tools/client.ts";
import { startToolHost, type ToolHost } from "../../../tools/host.ts";
import { connectSdkClient } from "../../../tools/sdk.ts";
import { McpCode } from "../../../tools/wire.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { everythingConfig, mcpRequest } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let nats: NatsServer;
let mesh: Mesh;
let host: ToolHost;
let mcp: McpClient;
let sdk: Client;

beforeAll(async () => {
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
  host = await startToolHost(mesh, {
    tenant: "test",
    host: "h1",
    servers: { everything: everythingConfig() },
    listTtlS: 600,
    log: silentLogger,
    keepAliveMs: 200,
    backoff: { initialMs: 200 },
  });
  mcp = createMcpClient(mesh, { tenant: "test", user: "tester" });
  sdk = await connectSdkClient(mcp, "everything");
}, 60_000);

afterAll(async () => {
  await sdk?.close();
  await mcp?.close();
  await host?.close();
  await mesh?.close();
  await nats?.close();
});

const status = () => host.servers().find((s) => s.server === "everything")!;

describe("a bridged stdio MCP server", () => {
  it("lists and calls its tools for the SDK's client over NATS", async () => {
    expect(status().state).toBe("up");
    // connectSdkClient ran server/discover: the bridge synthesized it from the child's own info.
    expect(sdk.getServerVersion()?.name).toBe("mcp-servers/everything");
    expect(sdk.getServerCapabilities()).toEqual({ tools: {} });
    const { tools } = await sdk.listTools(undefined, { cacheMode: "refresh" });
    const names = tools.map((t) => t.name);
    expect(names).toContain("echo");
    expect(names).toContain("trigger-long-running-operation");
    const res = await sdk.callTool({ name: "echo", arguments: { message: "over NATS" } });
    expect(res.content).toEqual([{ type: "text", text: "Echo: over NATS" }]);
    const sum = await sdk.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } });
    expect(JSON.stringify(sum.content)).toContain("5");
  });

  it("answers server/discover in 2026-07-28 shape from the server's own info (tools only)", async () => {
    const res = await mcp.request("everything", mcpRequest("server/discover"));
    expect("result" in res).toBe(true);
    if (!("result" in res)) return;
    expect(res.result).toMatchObject({ supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete" });
    expect(Object.keys(res.result.capabilities as object)).toEqual(["tools"]);
    expect((res.result._meta as Record<string, { name: string }>)["io.modelcontextprotocol/serverInfo"]!.name).toBe(
      "mcp-servers/everything",
    );
  });

  it("passes the server's own errors through and refuses what it does not bridge with -32601", async () => {
    const unknown = await mcp.request("everything", mcpRequest("tools/call", { name: "no-such-tool", arguments: {} }));
    if ("error" in unknown) expect(unknown.error.code).toBe(McpCode.InvalidParams);
    else expect(unknown.result.isError).toBe(true);
    const res = await mcp.request("everything", mcpRequest("resources/list"));
    expect("error" in res && res.error.code).toBe(McpCode.MethodNotFound);
    expect("error" in res && res.error.message).toMatch(/'resources\/list' is not bridged.*tools\/call/);
    const ping = await mcp.request("everything", mcpRequest("ping"));
    expect("result" in ping).toBe(true);
  });

  it("carries concurrent calls over the one stdio connection, each answered with its own result", async () => {
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) => sdk.callTool({ name: "echo", arguments: { message: `m${i}` } })),
    );
    expect(results.map((r) => (r.content as { text: string }[])[0]!.text)).toEqual(Array.from({ length: 32 }, (_, i) => `Echo: m${i}`));
  });

  it("caches tools/list for list_ttl_s: repeated lists reach the child once", async () => {
    // The host listed it at start, for the service metadata; server-everything then says its list
    // changed (it registers more tools once initialized), so that listing is not kept and the
    // next one reaches the child. From there on the cache answers.
    await sdk.listTools(undefined, { cacheMode: "refresh" });
    const before = status().listFetches;
    expect(before).toBeGreaterThan(0);
    await sdk.listTools(undefined, { cacheMode: "refresh" });
    await sdk.listTools(undefined, { cacheMode: "refresh" });
    const raw = await mcp.request("everything", mcpRequest("tools/list"));
    expect("result" in raw && (raw.result.tools as unknown[]).length).toBeGreaterThan(0);
    expect(status().listFetches).toBe(before);
  });

  it("forwards a long-running tool's progress as msg frames", async () => {
    const frames: string[] = [];
    const progress: number[] = [];
    const res = await mcp.request(
      "everything",
      mcpRequest("tools/call", {
        name: "trigger-long-running-operation",
        arguments: { duration: 1, steps: 2 },
        _meta: { progressToken: "p1" },
      }),
      {
        onFrame: (f) => frames.push(f),
        onNotification: (n) => {
          expect(n.params?.progressToken).toBe("p1");
          progress.push(n.params?.progress as number);
        },
      },
    );
    expect("result" in res).toBe(true);
    expect(progress).toEqual([1, 2]);
    expect(frames.filter((f) => f === "msg").length).toBe(2);
    expect(frames.at(-1)).toBe("end");
    // The SDK client sees the same through onprogress.
    const seen: number[] = [];
    await sdk.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 2 } },
      { onprogress: (p) => seen.push(p.progress) },
    );
    expect(seen).toEqual([1, 2]);
  });

  it("cancels the child's call when the SDK aborts ({reply}.ctl)", async () => {
    const ac = new AbortController();
    const p = sdk.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 60, steps: 60 } },
      { signal: ac.signal, onprogress: () => ac.abort() },
    );
    await expect(p).rejects.toThrow();
    await eventually("the bridged call to end", () => status().inFlight === 0, { timeoutMs: 30_000 });
    // The child is still healthy and answers.
    expect(status().state).toBe("up");
    const res = await sdk.callTool({ name: "echo", arguments: { message: "still here" } });
    expect(JSON.stringify(res.content)).toContain("still here");
  });

  it("a killed child fails the call in flight with -32010 at once, restarts, and the next call works", async () => {
    const pid = status().pid!;
    expect(pid).toBeGreaterThan(0);
    const restartsBefore = status().restarts;
    let killed = false;
    // An inactivity limit far beyond the test's timeout: only the bridge can end this call.
    const res = await mcp.request(
      "everything",
      mcpRequest("tools/call", {
        name: "trigger-long-running-operation",
        arguments: { duration: 300, steps: 300 },
        _meta: { progressToken: 7 },
      }),
      {
        inactivityMs: 600_000,
        onNotification: () => {
          if (!killed) {
            killed = true;
            process.kill(pid, "SIGKILL");
          }
        },
      },
    );
    expect(killed).toBe(true);
    expect("error" in res && res.error.code).toBe(McpCode.StreamLost);
    expect("error" in res && res.error.message).toMatch(/everything.*exited.*re-issue/);
    // While it is down (or once it is back), calls are answered, never left hanging.
    const during = await mcp.request("everything", mcpRequest("tools/call", { name: "echo", arguments: { message: "x" } }), {
      inactivityMs: 600_000,
    });
    if ("error" in during) expect(during.error.code).toBe(McpCode.StreamLost);
    await eventually("the child to restart", () => status().state === "up" && status().restarts === restartsBefore + 1, {
      timeoutMs: 60_000,
    });
    expect(status().pid).not.toBe(pid);
    const after = await sdk.callTool({ name: "echo", arguments: { message: "after restart" } });
    expect(JSON.stringify(after.content)).toContain("after restart");
    const metrics = await host.metrics.registry.metrics();
    expect(metrics).toContain(`lyra_tool_server_restarts_total{server="everything"} ${restartsBefore + 1}`);
    expect(metrics).toMatch(/lyra_tool_server_calls_total\{server="everything",tool="trigger-long-running-operation",outcome="error"\} 1/);
    expect(metrics).toContain('lyra_tool_server_up{server="everything"} 1');
  }, 90_000);
});
