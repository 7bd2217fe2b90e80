/**
 * The tool plane's result cache: a real tool host (the SDK's own server per request) on a real
 * JetStream nats-server, results marked the MCP 2026-07-28 way (`ttlMs`, `cacheScope`) by the tool
 * itself, kept in the KV bucket every replica shares.
 */
import { fileURLToPath } from "node:url";
import { McpServer } from "@modelcontextprotocol/server";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import type { BuiltinToolServer } from "../../../tools/builtin/index.ts";
import { createMcpClient, type McpClient } from "../../../tools/client.ts";
import { startToolHost, type ToolHost } from "../../../tools/host.ts";
import { MetaKey } from "../../../tools/wire.ts";
import { eventually } from "../../harness/eventually.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { mcpRequest } from "./helpers.ts";

const TENANT = "cache";
const MARKING_SERVER = new URL("../../fixtures/marking-server.ts", import.meta.url);
/** How often the tool really ran, per question. */
const runs = new Map<string, number>();
const LookupInput = z.object({ q: z.string(), mark: z.record(z.string(), z.unknown()).optional() });

/** `lookup` answers "<q> run <n>" and puts `mark` (the caching fields under test) on its result. */
const builtins: Record<string, BuiltinToolServer> = {
  marked: {
    description: "marks its results as asked",
    start: () => ({
      create: () => {
        const s = new McpServer({ name: "marked", version: "0.1.0" });
        s.registerTool("lookup", { description: "a lookup", inputSchema: LookupInput }, async ({ q, mark }) => {
          const n = (runs.get(q) ?? 0) + 1;
          runs.set(q, n);
          return { content: [{ type: "text", text: `${q} run ${n}` }], ...mark };
        });
        return s;
      },
    }),
  },
};

let nats: NatsServer;
let mesh: Mesh;
const hosts: ToolHost[] = [];
const clients: McpClient[] = [];
const warnings: { server?: string; msg: string }[] = [];
const log = pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line) as { server?: string; msg: string }) });

beforeAll(async () => {
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await Promise.all(hosts.map((h) => h.close()));
  await mesh?.close();
  await nats?.close();
});

async function replica(name: string): Promise<ToolHost> {
  const h = await startToolHost(mesh, { tenant: TENANT, host: name, servers: { marked: { builtin: "marked" } }, builtins, log });
  hosts.push(h);
  return h;
}

interface Answer {
  text: string;
  cached: boolean;
  ttlMs: unknown;
}

/** One tools/call of `lookup` as role `role` for end user `user` (none: no `lyra/user`). */
async function call(args: z.input<typeof LookupInput>, o: { role?: string; user?: string; noCache?: boolean } = {}): Promise<Answer> {
  const mcp = createMcpClient(mesh, { tenant: TENANT, user: o.role ?? "pragmatist" });
  clients.push(mcp);
  const meta = { ...(o.user !== undefined ? { [MetaKey.User]: o.user } : {}), ...(o.noCache ? { [MetaKey.NoCache]: true } : {}) };
  const r = await mcp.request("marked", mcpRequest("tools/call", { name: "lookup", arguments: args, _meta: meta }), { timeoutMs: 10_000 });
  if ("error" in r) throw new Error(`tools/call failed: ${r.error.message}`);
  const content = r.result.content as { text: string }[];
  const m = (r.result._meta ?? {}) as Record<string, unknown>;
  return { text: content[0]!.text, cached: m[MetaKey.Cached] === true, ttlMs: r.result.ttlMs };
}

const PUBLIC = { ttlMs: 60_000, cacheScope: "public" };
const PRIVATE = { ttlMs: 60_000, cacheScope: "private" };

async function cacheCount(h: ToolHost, result: string): Promise<number> {
  const m = await h.metrics.cache.get();
  return m.values.filter((v) => v.labels.result === result && v.labels.tool === "lookup").reduce((a, v) => a + v.value, 0);
}

describe("tool result cache", () => {
  it("a cacheable result is answered from the cache by another replica; the hit is marked and counted", async () => {
    const a = await replica("tools-a");
    const first = await call({ q: "replicas", mark: PUBLIC });
    expect(first).toMatchObject({ text: "replicas run 1", cached: false, ttlMs: 60_000 });
    await a.drain(1_000); // only replica b serves now
    const b = await replica("tools-b");
    const again = await call({ q: "replicas", mark: PUBLIC });
    expect(again.text).toBe("replicas run 1");
    expect(again.cached).toBe(true);
    expect(again.ttlMs).toBeLessThanOrEqual(60_000); // what is left of its freshness
    expect(runs.get("replicas")).toBe(1);
    expect(await cacheCount(a, "miss")).toBe(1);
    expect(await cacheCount(b, "hit")).toBe(1);
  });

  it("a public result is shared by every caller", async () => {
    await call({ q: "shared", mark: PUBLIC }, { user: "alice" });
    const bob = await call({ q: "shared", mark: PUBLIC }, { role: "philosopher", user: "bob" });
    expect(bob).toMatchObject({ text: "shared run 1", cached: true });
    expect(runs.get("shared")).toBe(1);
  });

  it("a private result is served to its own caller only, never to another user or role", async () => {
    expect((await call({ q: "mine", mark: PRIVATE }, { user: "alice" })).text).toBe("mine run 1");
    expect(await call({ q: "mine", mark: PRIVATE }, { user: "alice" })).toMatchObject({ text: "mine run 1", cached: true });
    expect(await call({ q: "mine", mark: PRIVATE }, { user: "bob" })).toMatchObject({ text: "mine run 2", cached: false });
    expect(await call({ q: "mine", mark: PRIVATE }, { user: "alice", role: "philosopher" })).toMatchObject({ text: "mine run 3" });
    expect(await call({ q: "mine", mark: PRIVATE }, { user: "bob" })).toMatchObject({ text: "mine run 2", cached: true });
    // No scope given: private, the safe reading.
    await call({ q: "mine-default", mark: { ttlMs: 60_000 } }, { user: "alice" });
    expect((await call({ q: "mine-default", mark: { ttlMs: 60_000 } }, { user: "bob" })).text).toBe("mine-default run 2");
  });

  it("a private result of a caller with no identity is not cached", async () => {
    await call({ q: "nobody", mark: PRIVATE }, { role: "_" });
    expect(await call({ q: "nobody", mark: PRIVATE }, { role: "_" })).toMatchObject({ text: "nobody run 2", cached: false });
  });

  it("an unmarked result is never cached", async () => {
    await call({ q: "plain" });
    expect(await call({ q: "plain" })).toMatchObject({ text: "plain run 2", cached: false });
    await call({ q: "stale", mark: { ttlMs: 0, cacheScope: "public" } });
    expect((await call({ q: "stale", mark: { ttlMs: 0, cacheScope: "public" } })).text).toBe("stale run 2");
  });

  it("an entry expires after its ttlMs: the tool runs again", async () => {
    const mark = { ttlMs: 300, cacheScope: "public" };
    await call({ q: "brief", mark });
    await eventually("the entry expired and the tool ran again", async () => (await call({ q: "brief", mark })).text === "brief run 2");
    expect(runs.get("brief")).toBe(2);
  });

  it("the caller can bypass it (lyra/noCache): a fresh result, which replaces the entry", async () => {
    await call({ q: "fresh", mark: PUBLIC });
    expect(await call({ q: "fresh", mark: PUBLIC }, { noCache: true })).toMatchObject({ text: "fresh run 2", cached: false });
    expect(await call({ q: "fresh", mark: PUBLIC })).toMatchObject({ text: "fresh run 2", cached: true });
  });

  it.each([
    ["a negative ttlMs", { ttlMs: -5, cacheScope: "public" }, /ttlMs -5 is not a non-negative number/],
    ["an absurd ttlMs", { ttlMs: 10 ** 12, cacheScope: "public" }, /ttlMs 1000000000000 is over the longest/],
    ["an unknown cacheScope", { ttlMs: 60_000, cacheScope: "everyone" }, /cacheScope "everyone" is neither/],
  ])("%s is ignored with a warning: the call is answered, nothing is cached", async (what, mark, warning) => {
    const q = `bad ${what}`;
    expect((await call({ q, mark })).text).toBe(`${q} run 1`);
    expect(await call({ q, mark })).toMatchObject({ text: `${q} run 2`, cached: false });
    expect(warnings.some((w) => w.server === "marked" && warning.test(w.msg) && w.msg.includes("not cached"))).toBe(true);
  });

  it("caches a bridged stdio MCP server's marked result too (the bridge passes the fields through)", async () => {
    const bridged = await startToolHost(mesh, {
      tenant: "cache-bridged",
      host: "tools-bridged",
      servers: { marking: { command: process.execPath, args: [fileURLToPath(MARKING_SERVER)], env: {} } },
      log: silentLogger,
    });
    hosts.push(bridged);
    expect(bridged.servers()[0]).toMatchObject({ state: "up", tools: ["lookup"] });
    const mcp = createMcpClient(mesh, { tenant: "cache-bridged", user: "pragmatist" });
    clients.push(mcp);
    const ask = async (q: string, mark?: Record<string, unknown>) => {
      const r = await mcp.request("marking", mcpRequest("tools/call", { name: "lookup", arguments: { q, mark } }), { timeoutMs: 10_000 });
      if ("error" in r) throw new Error(r.error.message);
      const meta = (r.result._meta ?? {}) as Record<string, unknown>;
      return { text: (r.result.content as { text: string }[])[0]!.text, cached: meta[MetaKey.Cached] === true };
    };
    const first = await ask("bridged", PUBLIC);
    expect(first.text).toMatch(/^bridged from \d+ run 1$/);
    expect(await ask("bridged", PUBLIC)).toEqual({ text: first.text, cached: true });
    expect((await ask("bridged plain")).cached).toBe(false);
    expect((await ask("bridged plain")).text).toMatch(/run 3$/); // run 2 was the first plain call: the cached one did not run
  });

  it("is off with tools.cache.enabled false", async () => {
    const off = await startToolHost(mesh, {
      tenant: "cache-off",
      host: "tools-off",
      servers: { marked: { builtin: "marked" } },
      builtins,
      log: silentLogger,
      cache: { enabled: false, bucket: "LYRA_TOOL_CACHE", max_ttl_s: 60 },
    });
    hosts.push(off);
    const mcp = createMcpClient(mesh, { tenant: "cache-off", user: "pragmatist" });
    clients.push(mcp);
    const ask = () => mcp.request("marked", mcpRequest("tools/call", { name: "lookup", arguments: { q: "off", mark: PUBLIC } }));
    await ask();
    await ask();
    expect(runs.get("off")).toBe(2);
  });
});
