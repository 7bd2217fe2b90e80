/** The memory built-in over NATS: durability across SIGKILL, hybrid search, the lexical fallback, scoping, bad inputs. */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { openMemoryStore } from "../../../tools/builtin/memory/index.ts";
import { createMcpClient, type McpClient } from "../../../tools/client.ts";
import { startToolHost, type ToolHost } from "../../../tools/host.ts";
import { MetaKey } from "../../../tools/wire.ts";
import { startOllamaDouble, type OllamaDouble } from "../../doubles/ollama.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { mcpRequest } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let nats: NatsServer;
let mesh: Mesh;
let ollama: OllamaDouble;
let dir: string;
let mcp: McpClient;
const hosts: ToolHost[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: nats.url });
  ollama = await startOllamaDouble({ models: ["nomic-embed-text", "qwen3:4b"] });
  dir = mkdtempSync(join(tmpdir(), "lyra-memory-"));
  mcp = createMcpClient(mesh, { tenant: "t" });
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const h of hosts) await h.close();
  await mcp?.close();
  await mesh?.close();
  await ollama?.close();
  await nats?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function host(server: string, options: Record<string, unknown>): Promise<void> {
  hosts.push(
    await startToolHost(mesh, { tenant: "t", host: "h", servers: { [server]: { builtin: "memory", options } }, log: silentLogger }),
  );
}

type Result = { text: string; isError: boolean };
async function call(
  server: string,
  name: string,
  args: unknown,
  meta: Record<string, unknown> = { [MetaKey.User]: "alice", [MetaKey.Conversation]: "c1" },
): Promise<Result> {
  const r = await mcp.request(server, mcpRequest("tools/call", { name, arguments: args, _meta: meta }));
  if ("error" in r) throw new Error(`JSON-RPC error ${r.error.code}: ${r.error.message}`);
  const res = r.result as { content: { text: string }[]; isError?: boolean };
  return { text: res.content.map((c) => c.text).join("\n"), isError: res.isError ?? false };
}
const as = (user: string, conversation = "c1") => ({ [MetaKey.User]: user, [MetaKey.Conversation]: conversation });

describe("memory tool server", () => {
  it("keeps every acknowledged entry when its process is killed with SIGKILL mid-write", async () => {
    const path = join(dir, "killed.db");
    const child = spawn(process.execPath, ["test/fixtures/memory-host.ts", nats.url, path, ollama.url], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await eventually("the memory host to be ready", () => out.includes("ready"));
    const server = "memory";
    await eventually("the memory service", async () => (await call(server, "recall", {}).catch(() => undefined)) !== undefined, {
      timeoutMs: 10_000,
    });
    const N = 1000;
    for (let i = 0; i < N; i += 20) {
      const batch = Array.from({ length: 20 }, (_, k) =>
        call(server, "commit_journal", { text: `entry number ${i + k} about topic${i + k}`, significance: 0.5 }),
      );
      for (const r of await Promise.all(batch)) expect(r.isError).toBe(false);
    }
    // More writes in flight when the kill lands: they may or may not be there, the 1,000 must.
    const inFlight = Array.from({ length: 50 }, (_, k) =>
      mcp
        .request(server, mcpRequest("tools/call", { name: "commit_journal", arguments: { text: `late ${k}` }, _meta: as("alice") }), {
          timeoutMs: 1_000,
        })
        .catch(() => undefined),
    );
    child.kill("SIGKILL");
    await once(child, "exit");
    await Promise.all(inFlight);

    const store = openMemoryStore(path);
    try {
      expect(store.count("alice")).toBeGreaterThanOrEqual(N);
      const texts = new Set(store.latest("alice", 10_000).map((e) => e.text));
      for (let i = 0; i < N; i++) expect(texts.has(`entry number ${i} about topic${i}`)).toBe(true);
    } finally {
      store.close();
    }
    // Restarted as a server on the same file: the entries are searchable.
    await host("memory2", { path, ollama_url: ollama.url });
    const r = await call("memory2", "semantic_search", { query: "topic777" });
    expect(r.text).toContain("entry number 777 about topic777");
  }, 120_000);

  it("finds by meaning (vectors) and by rare words (lexical), and says when it is lexical only", async () => {
    await host("mem", { path: join(dir, "search.db"), ollama_url: ollama.url });
    for (const text of [
      "My puppy loves running in the park",
      "I drive an old automobile to work",
      "The zygomorphic orchid in the greenhouse bloomed",
      "Dinner with my sister on Friday",
    ]) {
      expect((await call("mem", "commit_journal", { text, significance: 0.7 })).isError).toBe(false);
    }
    const meaning = await call("mem", "semantic_search", { query: "canine", limit: 1 });
    expect(meaning.text).toContain("puppy"); // no shared word: only the vector can find it
    expect(meaning.text).not.toContain("lexical only");
    const rare = await call("mem", "semantic_search", { query: "zygomorphic", limit: 1 });
    expect(rare.text).toContain("orchid");

    await host("memlex", { path: join(dir, "search.db"), ollama_url: ollama.url, embedding_model: "not-pulled" });
    const lex = await call("memlex", "semantic_search", { query: "zygomorphic flowers" });
    expect(lex.text).toMatch(/lexical only: embedding model 'not-pulled'/);
    expect(lex.text).toContain("orchid");
    const stored = await call("memlex", "commit_journal", { text: "written while the model is missing" });
    expect(stored.text).toMatch(/lexical only/);
    const recalled = await call("memlex", "recall", { query: "automobile" });
    expect(recalled.text).toContain("old automobile");

    // A chat model answers /api/embed too (real Ollama does): its vectors would mean nothing, so it is refused.
    await host("memchat", { path: join(dir, "search.db"), ollama_url: ollama.url, embedding_model: "qwen3:4b" });
    const chat = await call("memchat", "semantic_search", { query: "zygomorphic" });
    expect(chat.text).toMatch(
      new RegExp(
        String.raw`lexical only: embedding model 'qwen3:4b' .* is not an embedding model ` +
          String.raw`\(its capabilities: completion, tools\); set options.embedding_model`,
      ),
    );
    expect(chat.text).toContain("orchid");
  });

  it("never shows one user's memories to another, and scopes by conversation when asked", async () => {
    await host("memscope", { path: join(dir, "scope.db"), ollama_url: ollama.url });
    await call("memscope", "commit_journal", { text: "Alice's secret: the vault code is 4242" }, as("alice", "c1"));
    await call("memscope", "commit_journal", { text: "Alice likes sailing on the ocean" }, as("alice", "c2"));
    await call("memscope", "commit_journal", { text: "Bob's vault code is 9999" }, as("bob", "c1"));
    // A user id in the model's arguments is not part of the schema: ignored, the entry is the caller's.
    await call("memscope", "commit_journal", { text: "planted by a model as bob", user: "bob" }, as("alice", "c1"));
    expect((await call("memscope", "semantic_search", { query: "planted" }, as("bob"))).text).not.toContain("planted by");
    expect((await call("memscope", "semantic_search", { query: "planted", user: "bob" }, as("alice"))).text).toContain("planted by");
    const bob = await call("memscope", "semantic_search", { query: "vault code secret", limit: 50 }, as("bob"));
    expect(bob.text).toContain("9999");
    expect(bob.text).not.toContain("4242");
    const bobRecall = await call("memscope", "recall", { limit: 50 }, as("bob"));
    expect(bobRecall.text).not.toContain("Alice");
    const carol = await call("memscope", "semantic_search", { query: "vault" }, as("carol"));
    expect(carol.text).toMatch(/no memory matches/);
    // An id of Alice's is unknown to Bob, for recall and forget alike.
    const aliceId = Number(/#(\d+)/.exec((await call("memscope", "recall", { query: "vault" }, as("alice"))).text)![1]);
    expect((await call("memscope", "recall", { ids: [aliceId] }, as("bob"))).isError).toBe(true);
    expect((await call("memscope", "forget", { id: aliceId }, as("bob"))).isError).toBe(true);
    // Conversation scope: c1 sees the vault, not the sailing of c2; user scope sees both.
    const c1 = await call("memscope", "recall", { scope: "conversation", limit: 50 }, as("alice", "c1"));
    expect(c1.text).toContain("4242");
    expect(c1.text).not.toContain("sailing");
    const all = await call("memscope", "recall", { limit: 50 }, as("alice", "c1"));
    expect(all.text).toContain("sailing");
    // Forget removes it from search too.
    expect((await call("memscope", "forget", { id: aliceId }, as("alice"))).text).toBe(`forgot #${aliceId}`);
    expect((await call("memscope", "semantic_search", { query: "vault code" }, as("alice"))).text).not.toContain("4242");
  });

  it("answers bad inputs with a tool error that says why, and keeps serving", async () => {
    await host("membad", { path: join(dir, "bad.db"), ollama_url: ollama.url });
    const huge = "x".repeat(10_000);
    const bad: [string, unknown, Record<string, unknown>?][] = [
      ["semantic_search", {}],
      ["semantic_search", { query: 5 }],
      ["semantic_search", { query: "" }],
      ["semantic_search", { query: "   " }],
      ["semantic_search", { query: huge }],
      ["semantic_search", { query: "a", limit: 0 }],
      ["semantic_search", { query: "a", limit: 51 }],
      ["semantic_search", { query: "a", limit: 2.5 }],
      ["semantic_search", { query: "a", limit: "5" }],
      ["semantic_search", { query: "a", scope: "everyone" }],
      ["semantic_search", { query: "a", scope: "conversation" }, { [MetaKey.User]: "alice" }],
      ["semantic_search", { query: "a" }, {}],
      ["semantic_search", { query: "a" }, { [MetaKey.User]: 42 }],
      ["recall", { ids: [] }],
      ["recall", { ids: [-1] }],
      ["recall", { ids: ["a"] }],
      ["recall", { ids: [999_999] }],
      ["recall", { ids: [1], query: "x" }],
      ["recall", { limit: -3 }],
      ["commit_journal", {}],
      ["commit_journal", { text: "" }],
      ["commit_journal", { text: 42 }],
      ["commit_journal", { text: huge }],
      ["commit_journal", { text: "a", significance: 1.5 }],
      ["commit_journal", { text: "a", significance: -0.1 }],
      ["commit_journal", { text: "a", significance: "high" }],
      ["commit_journal", { text: "a", tags: "a" }],
      ["commit_journal", { text: "a", tags: [""] }],
      ["commit_journal", { text: "a" }, {}],
      ["forget", {}],
      ["forget", { id: 0 }],
      ["forget", { id: "1" }],
      ["forget", { id: 1.5 }],
      ["forget", { id: 999_999 }],
    ];
    expect(bad.length).toBeGreaterThanOrEqual(20);
    for (const [tool, args, meta] of bad) {
      const r = await call("membad", tool, args, meta);
      expect(r.isError, `${tool} ${JSON.stringify(args).slice(0, 80)}`).toBe(true);
      expect(r.text.length).toBeGreaterThan(10);
    }
    // FTS5 syntax in a query is only words to search for.
    expect((await call("membad", "semantic_search", { query: 'NEAR(a b) OR "x* AND -' })).isError).toBe(false);
    expect((await call("membad", "commit_journal", { text: "still serving" })).isError).toBe(false);
  });
});
