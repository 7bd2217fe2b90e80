/**
 * Wire v1 conformance of a tool server: integrity (-32020), malformed input (err frames, no
 * crash), no responders (-32011), and results over max_payload (-32012, or the claim-check).
 * The nats-server runs with a small max_payload so "oversize" stays small.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInbox, headers as natsHeaders } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import {
  claimBucket,
  clockServer,
  createMcpClient,
  errorResponse,
  Frame,
  McpCode,
  McpHeader,
  sdkHandler,
  serveMcp,
  type JsonRpcResponse,
  type McpClient,
  type McpHandler,
  type ToolServer,
} from "../../../tools/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { goodCall, malformedCases, type RawRequest } from "./malformed.ts";
import { eventually } from "../../harness/eventually.ts";

const TENANT = "wire";
const MAX_PAYLOAD = 64 * 1024;

let nats: NatsServer;
let mesh: Mesh;
let clock: ToolServer;
let bulk: ToolServer;
let client: McpClient;
/** The exact result the bulk tool returned last, as JSON text. */
let lastBulk = "";

/** `bulk.blob {bytes}`: a result of about that many bytes, with escapes and non-ASCII in it. */
const bulkHandler: McpHandler = async (req) => {
  const bytes = Number((req.params?.arguments as { bytes?: number } | undefined)?.bytes ?? 0);
  let text = "";
  for (let i = 0; text.length < bytes; i++) text += `${createHash("sha256").update(String(i)).digest("base64")} é€😀 "q" \\ \n`;
  const res: JsonRpcResponse = { jsonrpc: "2.0", id: req.id, result: { content: [{ type: "text", text }] } };
  lastBulk = JSON.stringify(res.result);
  return req.method === "tools/call"
    ? res
    : errorResponse(req.id, McpCode.MethodNotFound, `bulk serves tools/call only, not ${req.method}`);
};

beforeAll(async () => {
  nats = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}\n` });
  mesh = await connectMesh({ servers: nats.url });
  clock = await serveMcp(mesh, {
    server: "clock",
    tenant: TENANT,
    host: "h1",
    handler: sdkHandler(() => clockServer()),
    keepAliveMs: 1000,
  });
  bulk = await serveMcp(mesh, { server: "bulk", tenant: TENANT, host: "h1", handler: bulkHandler, keepAliveMs: 1000 });
  client = createMcpClient(mesh, { tenant: TENANT });
});
afterAll(async () => {
  await client?.close();
  await bulk?.close();
  await clock?.close();
  await mesh?.close();
  await nats?.close();
});

const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
const call = (name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0" as const,
  id: 1,
  method: "tools/call",
  params: { name, arguments: args, _meta: meta },
});

/** Publishes one raw request and collects its reply frames up to the terminal one. */
async function raw(r: RawRequest, waitMs = 5000): Promise<{ frame: string; body: string }[]> {
  const inbox = createInbox();
  const sub = mesh.nc.subscribe(inbox);
  const h = natsHeaders();
  for (const [k, v] of Object.entries(r.headers)) if (v !== "") h.set(k, v);
  mesh.nc.publish(r.subject, r.body, { reply: inbox, headers: h });
  const frames: { frame: string; body: string }[] = [];
  const timer = setTimeout(() => sub.unsubscribe(), waitMs);
  for await (const m of sub) {
    const frame = m.headers?.get(McpHeader.Frame) ?? "";
    if (frame === Frame.KeepAlive) continue;
    frames.push({ frame, body: new TextDecoder().decode(m.data) });
    if (frame === Frame.End || frame === Frame.Err) break;
  }
  clearTimeout(timer);
  sub.unsubscribe();
  return frames;
}

describe("integrity: subject, headers and body must agree (-32020)", () => {
  it("a good raw request is served (the base of every other case)", async () => {
    const frames = await raw(goodCall(TENANT, "clock", "now", { timezone: "UTC" }));
    expect(frames.map((f) => f.frame)).toEqual([Frame.End]);
    expect(frames[0]!.body).toContain("(UTC)");
  });

  it("a body naming another tool than its subject", async () => {
    const g = goodCall(TENANT, "clock", "now");
    const frames = await raw({
      ...g,
      headers: { ...g.headers, [McpHeader.Name]: "wait" },
      body: JSON.stringify(call("wait", { seconds: 0 })),
    });
    expect(frames).toHaveLength(1);
    expect(frames[0]!.frame).toBe(Frame.Err);
    expect(JSON.parse(frames[0]!.body)).toMatchObject({
      jsonrpc: "2.0",
      id: 1,
      error: { code: McpCode.HeaderMismatch, message: expect.stringMatching(/subject name token 'now'.*'wait'/) as string },
    });
  });

  it("an Mcp-Name header naming another tool than the body", async () => {
    const g = goodCall(TENANT, "clock", "now");
    const [f] = await raw({ ...g, headers: { ...g.headers, [McpHeader.Name]: "wait" } });
    expect(JSON.parse(f!.body)).toMatchObject({
      error: { code: McpCode.HeaderMismatch, message: expect.stringMatching(/Mcp-Name header 'wait'/) as string },
    });
  });

  it("a token-safe tool name published on the '_' name token", async () => {
    const g = goodCall(TENANT, "clock", "now");
    const [f] = await raw({ ...g, subject: g.subject.replace(/\.now$/, "._") });
    expect(f!.frame).toBe(Frame.Err);
    expect(JSON.parse(f!.body)).toMatchObject({
      error: { code: McpCode.HeaderMismatch, message: expect.stringMatching(/'_' does not match 'now'/) as string },
    });
  });
});

describe("malformed input", () => {
  const cases = malformedCases(TENANT, "clock", "now");

  it(`has at least 30 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(new Set(cases.map((c) => c.what)).size).toBe(cases.length);
  });

  it("each is answered with one err frame carrying a JSON-RPC error; the server still serves", async () => {
    const answers = await Promise.all(cases.map(async (c) => ({ c, frames: await raw(c) })));
    for (const { c, frames } of answers) {
      expect(
        frames.map((f) => f.frame),
        c.what,
      ).toEqual([Frame.Err]);
      const res = JSON.parse(frames[0]!.body) as { jsonrpc: string; id: unknown; error: { code: number; message: string } };
      expect(res.jsonrpc, c.what).toBe("2.0");
      expect(res.error.code, `${c.what}: ${res.error.message}`).toBe(c.code);
      expect(res.error.message.length, c.what).toBeGreaterThan(0);
    }
    expect(clock.inFlight()).toBe(0);
    expect(mesh.nc.isClosed()).toBe(false);
    const after = await client.request("clock", call("now", { timezone: "UTC" }));
    expect(JSON.stringify(after)).toContain("(UTC)");
  });

  it("reply subjects with wildcards or empty tokens do not break the server", async () => {
    const g = goodCall(TENANT, "clock", "now");
    const h = natsHeaders();
    for (const [k, v] of Object.entries(g.headers)) h.set(k, v);
    for (const reply of ["odd.*", "odd.>", "odd..reply"]) mesh.nc.publish(g.subject, g.body, { reply, headers: h });
    await mesh.nc.flush();
    const res = await client.request("clock", call("now", { timezone: "UTC" }));
    expect(JSON.stringify(res)).toContain("(UTC)");
    await eventually("the clock server's call to end", () => clock.inFlight() === 0, { timeoutMs: 2000 });
    expect(clock.inFlight()).toBe(0);
  });

  it("a request over max_payload is refused before it is sent (-32012) and by NATS itself", async () => {
    const res = await client.request("clock", call("now", { timezone: "x".repeat(MAX_PAYLOAD) }));
    expect(res).toMatchObject({ error: { code: McpCode.PayloadTooLarge } });
    const g = goodCall(TENANT, "clock", "now", { timezone: "x".repeat(MAX_PAYLOAD) });
    expect(() => mesh.nc.publish(g.subject, g.body)).toThrow(/payload/i);
    expect(JSON.stringify(await client.request("clock", call("now")))).toContain("(UTC)");
  });
});

describe("routing and size", () => {
  it("no tool server on the subject: -32011", async () => {
    const res = await client.request("nobody", call("now"));
    expect(res).toMatchObject({
      id: 1,
      error: { code: McpCode.NoServer, message: expect.stringMatching(/no tool server 'nobody'/) as string },
    });
  });

  it("a result over max_payload: -32012 without claim-check", async () => {
    const res = await client.request("bulk", call("blob", { bytes: 3 * MAX_PAYLOAD }), { acceptClaim: false });
    expect(res).toMatchObject({
      error: {
        code: McpCode.PayloadTooLarge,
        message: expect.stringMatching(/over the NATS max_payload of 65536; send Mcp-Accept-Claim: 1/) as string,
      },
    });
  });

  it("the same result arrives intact through the claim-check, which is deleted after the fetch", async () => {
    const frames: string[] = [];
    const res = await client.request("bulk", call("blob", { bytes: 3 * MAX_PAYLOAD }), {
      onFrame: (f, _b, h) => frames.push(h[McpHeader.Claim] ? `${f}+claim` : f),
    });
    expect(frames.filter((f) => f !== Frame.KeepAlive)).toEqual(["end+claim"]);
    expect("result" in res).toBe(true);
    const got = JSON.stringify((res as { result: unknown }).result);
    expect(got.length).toBeGreaterThan(3 * MAX_PAYLOAD);
    expect(got).toBe(lastBulk);
    const os = await new Objm(mesh.nc).open(claimBucket(TENANT));
    expect(await os.list()).toEqual([]);
  });
});
