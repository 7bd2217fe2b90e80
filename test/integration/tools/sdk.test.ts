import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/client";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { clockServer } from "../../../tools/builtin/clock.ts";
import { createMcpClient } from "../../../tools/client.ts";
import { connectSdkClient, sdkHandler } from "../../../tools/sdk.ts";
import { serveMcp, type ToolServer } from "../../../tools/server.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { eventually } from "../../harness/eventually.ts";

describe("the MCP SDK's own client and server over NATS", () => {
  let nats: NatsServer;
  let mesh: Mesh;
  let ts: ToolServer;
  let sdk: Client;
  beforeAll(async () => {
    nats = await startNatsServer();
    mesh = await connectMesh({ servers: nats.url });
    ts = await serveMcp(mesh, { server: "clock", tenant: "test", host: "h1", handler: sdkHandler(() => clockServer()), keepAliveMs: 100 });
    sdk = await connectSdkClient(createMcpClient(mesh, { tenant: "test", user: "pragmatist" }), "clock");
  });
  afterAll(async () => {
    await sdk?.close();
    await ts?.close();
    await mesh?.close();
    await nats?.close();
  });

  it("lists and calls tools", async () => {
    const { tools } = await sdk.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["now", "wait"]);
    const res = await sdk.callTool({ name: "now", arguments: { timezone: "UTC" } });
    expect(JSON.stringify(res.content)).toContain("UTC");
  });

  it("streams progress notifications as msg frames", async () => {
    const progress: number[] = [];
    const res = await sdk.callTool({ name: "wait", arguments: { seconds: 2 } }, { onprogress: (p) => progress.push(p.progress) });
    expect(progress).toEqual([1, 2]);
    expect(JSON.stringify(res.content)).toContain("waited 2 s");
  });

  it("cancels through {reply}.ctl when the SDK aborts", async () => {
    const ac = new AbortController();
    const p = sdk.callTool({ name: "wait", arguments: { seconds: 30 } }, { signal: ac.signal, onprogress: () => ac.abort() });
    await expect(p).rejects.toThrow();
    await eventually("the cancelled call to end on the server", () => ts.inFlight() === 0, { timeoutMs: 2000 });
    expect(ts.inFlight()).toBe(0);
  });
});
