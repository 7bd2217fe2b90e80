/** The bridge's tools/list cache against a server that says its list changed while being listed. */
import { describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/client";
import { bridgeHandler } from "../../../tools/bridge.ts";
import type { Upstream, UpstreamEvent } from "../../../tools/upstream.ts";
import { MCP_PROTOCOL_VERSION, MetaKey, type JsonRpcResponse } from "../../../tools/wire.ts";

function fakeUpstream() {
  const pending: { resolve: (names: string[]) => void }[] = [];
  const listeners: ((e: UpstreamEvent) => void)[] = [];
  const client = {
    listTools: () =>
      new Promise((resolve) =>
        pending.push({ resolve: (names) => resolve({ tools: names.map((name) => ({ name, inputSchema: { type: "object" } })) }) }),
      ),
    getServerVersion: () => undefined,
  } as unknown as Client;
  const up = {
    server: "fake",
    generation: () => 1,
    client: () => client,
    onEvent: (fn: (e: UpstreamEvent) => void) => void listeners.push(fn),
    run: <T>(fn: (c: Client) => Promise<T>) => fn(client),
  } as unknown as Upstream;
  return { up, pending, emit: (e: UpstreamEvent) => listeners.forEach((f) => f(e)) };
}

const list = (h: ReturnType<typeof bridgeHandler>) =>
  h(
    {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/list",
      params: { _meta: { [MetaKey.ProtocolVersion]: MCP_PROTOCOL_VERSION, [MetaKey.ClientCapabilities]: {} } },
    },
    { signal: new AbortController().signal, notify: () => undefined, tenant: "t", user: "_" },
  ).then((r: JsonRpcResponse) => ("result" in r ? (r.result.tools as { name: string }[]).map((t) => t.name) : r.error));

describe("the bridge's tools/list cache", () => {
  it("does not keep a listing that a list_changed overtook", async () => {
    const { up, pending, emit } = fakeUpstream();
    const h = bridgeHandler(up, { listTtlMs: 60_000 });
    const first = list(h);
    await Promise.resolve();
    emit("tools_changed"); // arrives while the first listing is under way
    const second = list(h); // asked after the change: not answered by the stale listing
    await Promise.resolve();
    expect(pending.length).toBe(2);
    pending[0]!.resolve(["old"]);
    pending[1]!.resolve(["new"]);
    expect(await first).toEqual(["old"]);
    expect(await second).toEqual(["new"]);
    expect(await list(h)).toEqual(["new"]); // cached
    expect(h.listFetches()).toBe(2);
  });

  it("caches a listing that finished before the change, then lists again after it", async () => {
    const { up, pending, emit } = fakeUpstream();
    const h = bridgeHandler(up, { listTtlMs: 60_000 });
    const first = list(h);
    await Promise.resolve();
    pending[0]!.resolve(["a"]);
    expect(await first).toEqual(["a"]);
    expect(await list(h)).toEqual(["a"]);
    expect(h.listFetches()).toBe(1);
    emit("tools_changed");
    const again = list(h);
    await Promise.resolve();
    pending[1]!.resolve(["a", "b"]);
    expect(await again).toEqual(["a", "b"]);
  });
});
