import { describe, expect, it } from "vitest";
import type { McpClient } from "../../../tools/client.ts";
import { McpWireError } from "../../../tools/errors.ts";
import { listTools, MAX_TOOL_LIST_PAGES, meshRequest } from "../../../tools/request.ts";
import { MCP_PROTOCOL_VERSION, MetaKey, type JsonRpcRequest, type JsonRpcResponse } from "../../../tools/wire.ts";

function fakeClient(answer: (req: JsonRpcRequest) => JsonRpcResponse) {
  const seen: JsonRpcRequest[] = [];
  const client = {
    tenant: "t",
    user: "_",
    close: async () => undefined,
    closed: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
    request: async (_s: string, req: JsonRpcRequest) => (seen.push(req), answer(req)),
  } as McpClient;
  return { client, seen };
}

describe("meshRequest", () => {
  it("puts the protocol version and client capabilities in _meta, after the caller's meta, with fresh ids", () => {
    const a = meshRequest("tools/call", { name: "now" }, { progressToken: 1, [MetaKey.ProtocolVersion]: "1999-01-01" });
    const b = meshRequest("tools/list");
    expect(a.params).toEqual({
      name: "now",
      _meta: { progressToken: 1, [MetaKey.ProtocolVersion]: MCP_PROTOCOL_VERSION, [MetaKey.ClientCapabilities]: {} },
    });
    expect(a.id).not.toBe(b.id);
  });
});

describe("listTools", () => {
  it("follows cursors and keeps only tools with a name", async () => {
    const { client, seen } = fakeClient((req) => {
      const cursor = req.params?.cursor;
      return cursor === undefined
        ? { jsonrpc: "2.0", id: req.id, result: { tools: [{ name: "a" }, { nope: 1 }], nextCursor: "p2" } }
        : { jsonrpc: "2.0", id: req.id, result: { tools: [{ name: "b" }] } };
    });
    expect((await listTools(client, "s", { meta: { x: 1 } })).map((t) => t.name)).toEqual(["a", "b"]);
    expect(seen.map((r) => r.params?.cursor)).toEqual([undefined, "p2"]);
    expect((seen[0]!.params?._meta as Record<string, unknown>).x).toBe(1);
  });

  it("stops after MAX_TOOL_LIST_PAGES and rejects an error answer with McpWireError", async () => {
    const { client, seen } = fakeClient((req) => ({ jsonrpc: "2.0", id: req.id, result: { tools: [], nextCursor: "again" } }));
    await listTools(client, "s");
    expect(seen.length).toBe(MAX_TOOL_LIST_PAGES);
    const failing = fakeClient((req) => ({ jsonrpc: "2.0", id: req.id, error: { code: -32011, message: "no tool server 's'" } }));
    const err = await listTools(failing.client, "s").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpWireError);
    expect(err).toMatchObject({ rpcCode: -32011 });
  });
});
