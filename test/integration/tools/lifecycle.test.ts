import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInbox, headers as natsHeaders } from "@nats-io/nats-core";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { clockServer } from "../../../tools/builtin/clock.ts";
import { createMcpClient, type McpClient } from "../../../tools/client.ts";
import { sdkHandler } from "../../../tools/sdk.ts";
import { serveMcp, type McpHandler } from "../../../tools/server.ts";
import { McpCode, type JsonRpcRequest } from "../../../tools/wire.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { goodCall } from "./malformed.ts";
import { eventually } from "../../harness/eventually.ts";

const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
const waitCall = (seconds: number): JsonRpcRequest => ({
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: { name: "wait", arguments: { seconds }, _meta: { ...META, progressToken: "p" } },
});

describe("tool server lifecycle on the wire", () => {
  let nats: NatsServer;
  let mesh: Mesh;
  let client: McpClient;
  beforeAll(async () => {
    nats = await startNatsServer();
    mesh = await connectMesh({ servers: nats.url });
    client = createMcpClient(mesh, { tenant: "t", user: "tester" });
  });
  afterAll(async () => {
    await client?.close();
    await mesh?.close();
    await nats?.close();
  });

  it("sends keep-alive frames while a call works, then msg frames and one end", async () => {
    await using _ts = await serveMcp(mesh, {
      server: "clock",
      tenant: "t",
      host: "h",
      handler: sdkHandler(() => clockServer()),
      keepAliveMs: 100,
    });
    const frames: string[] = [];
    const res = await client.request("clock", waitCall(2), { onFrame: (f) => frames.push(f) });
    expect("result" in res).toBe(true);
    expect(frames.filter((f) => f === "ka").length).toBeGreaterThan(0);
    expect(frames.filter((f) => f === "msg")).toHaveLength(2);
    expect(frames.filter((f) => f === "end")).toHaveLength(1);
    expect(frames.at(-1)).toBe("end");
  });

  it("ends calls still running when the server stops with -32010 (re-issue)", async () => {
    const ts = await serveMcp(mesh, { server: "clock2", tenant: "t", host: "h", handler: sdkHandler(() => clockServer()) });
    let frame = "";
    const p = client.request("clock2", waitCall(60), { onFrame: (f) => (frame = f) });
    await eventually("the call to reach the server", () => ts.inFlight() > 0);
    await ts.drain(50);
    const res = await p;
    expect("error" in res && res.error.code).toBe(McpCode.StreamLost);
    expect(frame).toBe("err");
  });

  it("presumes a silent server dead after the inactivity limit (-32010)", async () => {
    // A subscriber that takes requests and never answers: a hung or partitioned tool host.
    const sub = mesh.nc.subscribe(subjects.mcpServer("t", "silent"), { callback: () => undefined });
    const res = await client.request("silent", waitCall(1), { inactivityMs: 300 });
    sub.unsubscribe();
    expect("error" in res && res.error.code).toBe(McpCode.StreamLost);
  });

  it("answers no responders with -32011 at once", async () => {
    const res = await client.request("nobody", waitCall(1));
    expect("error" in res && res.error.code).toBe(McpCode.NoServer);
    expect("error" in res && res.error.message).toMatch(/lyra tools/);
  });

  it("shares calls between replicas of one server (one queue group), each a micro service instance", async () => {
    const served = { a: 0, b: 0 };
    const replica = (which: "a" | "b") =>
      serveMcp(mesh, {
        server: "echo",
        tenant: "t",
        host: which,
        handler: async (req) => {
          served[which]++;
          return { jsonrpc: "2.0", id: req.id, result: { content: [{ type: "text", text: which }] } };
        },
      });
    await using a = await replica("a");
    await using b = await replica("b");
    expect(a.instanceId).not.toBe(b.instanceId);
    const call: JsonRpcRequest = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x", arguments: {}, _meta: META } };
    const results = await Promise.all(Array.from({ length: 60 }, () => client.request("echo", call)));
    expect(results.every((r) => "result" in r)).toBe(true);
    expect(served.a + served.b).toBe(60);
    expect(served.a).toBeGreaterThan(0);
    expect(served.b).toBeGreaterThan(0);
  });

  it("sends nothing after the empty end of a cancelled call, even while its handler runs on", async () => {
    // A handler that ignores cancellation (as a bridged server may): it answers 1 s later anyway.
    const stubborn: McpHandler = (req) =>
      new Promise((r) => setTimeout(() => r({ jsonrpc: "2.0", id: req.id, result: { content: [] } }), 1000));
    await using ts = await serveMcp(mesh, { server: "clock4", tenant: "t", host: "h", handler: stubborn, keepAliveMs: 50 });
    // A raw caller, so frames sent after the cancel would still be seen.
    const call = goodCall("t", "clock4", "wait", { seconds: 30 });
    const reply = createInbox();
    const frames: string[] = [];
    mesh.nc.subscribe(reply, { callback: (_e, m) => void frames.push(m.headers?.get("Mcp-Frame") ?? "?") });
    const h = natsHeaders();
    for (const [k, v] of Object.entries(call.headers)) h.set(k, v);
    mesh.nc.publish(call.subject, call.body, { reply, headers: h });
    await eventually("a keep-alive frame", () => frames.includes("ka"));
    mesh.nc.publish(subjects.mcpControl(reply));
    await eventually("the end frame", () => frames.includes("end"));
    const ended = frames.length;
    await new Promise((r) => setTimeout(r, 1300)); // past the handler's own answer
    expect(frames.slice(ended - 1)).toEqual(["end"]);
    expect(ts.inFlight()).toBe(0);
  });

  it("treats a terminal frame that is no JSON-RPC response as a lost stream, and close() ends pending calls", async () => {
    const bad = mesh.nc.subscribe(subjects.mcpServer("t", "bad"), {
      callback: (_e, m) => {
        const h = natsHeaders();
        h.set("Mcp-Frame", "end");
        m.respond(JSON.stringify({ jsonrpc: "2.0", id: 1, result: null }), { headers: h });
      },
    });
    const res = await client.request("bad", waitCall(1));
    expect("error" in res && res.error.code).toBe(McpCode.StreamLost);
    bad.unsubscribe();
    const other = createMcpClient(mesh, { tenant: "t" });
    const hang = mesh.nc.subscribe(subjects.mcpServer("t", "hang"), { callback: () => undefined });
    const p = other.request("hang", waitCall(1));
    await other.close();
    await expect(p).rejects.toMatchObject({ code: "closed" });
    hang.unsubscribe();
  });

  it("honours a whole-request timeout and cancels the work", async () => {
    await using ts = await serveMcp(mesh, { server: "clock3", tenant: "t", host: "h", handler: sdkHandler(() => clockServer()) });
    const res = await client.request("clock3", waitCall(60), { timeoutMs: 300 });
    expect("error" in res && res.error.code).toBe(-32001);
    await eventually("the timed-out call to end on the server", () => ts.inFlight() === 0, { timeoutMs: 2000 });
    expect(ts.inFlight()).toBe(0);
  });
});
