/**
 * The memory tool server as the mesh serves it (MCP over a real nats-server), on real embeddings:
 * all-minilm in real Ollama. A paraphrase that shares no word with an entry finds it, above an
 * unrelated entry; a missing model and a chat model in its place make search lexical and say why.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createEmbedder } from "../../tools/builtin/memory/index.ts";
import { createMcpClient, type McpClient } from "../../tools/client.ts";
import { startToolHost, type ToolHost } from "../../tools/host.ts";
import { MetaKey } from "../../tools/wire.ts";
import { mcpRequest } from "../integration/tools/helpers.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, EMBED_MODEL, startOllama, type RealOllama } from "../harness/real.ts";

let nats: NatsServer;
let mesh: Mesh;
let ollama: RealOllama;
let dir: string;
let mcp: McpClient;
const hosts: ToolHost[] = [];

beforeAll(async () => {
  ollama = await startOllama();
  nats = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: nats.url });
  dir = mkdtempSync(join(tmpdir(), "lyra-real-memory-"));
  mcp = createMcpClient(mesh, { tenant: "t" });
});
afterAll(async () => {
  for (const h of hosts) await h.close();
  await mcp?.close();
  await mesh?.close();
  await nats?.close();
  await ollama?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function host(server: string, embeddingModel: string): Promise<void> {
  const options = { path: join(dir, "memory.db"), ollama_url: ollama.url, embedding_model: embeddingModel, embed_timeout_ms: 60_000 };
  hosts.push(
    await startToolHost(mesh, { tenant: "t", host: "h", servers: { [server]: { builtin: "memory", options } }, log: silentLogger }),
  );
}

async function call(server: string, name: string, args: unknown): Promise<{ text: string; isError: boolean }> {
  const r = await mcp.request(
    server,
    mcpRequest("tools/call", { name, arguments: args, _meta: { [MetaKey.User]: "alice", [MetaKey.Conversation]: "c1" } }),
    { timeoutMs: 60_000 },
  );
  if ("error" in r) throw new Error(`JSON-RPC error ${r.error.code}: ${r.error.message}`);
  const res = r.result as { content: { text: string }[]; isError?: boolean };
  return { text: res.content.map((c) => c.text).join("\n"), isError: res.isError ?? false };
}

const ENTRY = "My puppy loves running in the park";
const PARAPHRASE = "A young dog enjoys jogging outdoors";
const CONTROL = "The quarterly tax report is due on Friday";

describe("memory on real embeddings", () => {
  it("finds an entry by a paraphrase that shares no word with it, above an unrelated entry", async () => {
    const words = (t: string) => new Set(t.toLowerCase().split(/\W+/));
    expect([...words(PARAPHRASE)].filter((w) => words(ENTRY).has(w))).toEqual([]); // only the vector can find it
    await host("memory", EMBED_MODEL);
    for (const text of [CONTROL, ENTRY]) {
      const r = await call("memory", "commit_journal", { text });
      expect(r.isError).toBe(false);
      expect(r.text).not.toMatch(/lexical only/);
    }
    const found = await call("memory", "semantic_search", { query: PARAPHRASE, limit: 5 });
    expect(found.isError).toBe(false);
    expect(found.text).not.toMatch(/lexical only/);
    const lines = found.text.split("\n");
    const at = (t: string) => lines.findIndex((l) => l.endsWith(t));
    expect(at(ENTRY)).toBe(0);
    // The control may be listed (any two texts have some cosine > 0), never above the entry.
    expect(at(CONTROL) === -1 || at(CONTROL) > at(ENTRY)).toBe(true);
  });

  it("gets one unit-length vector of the model's 384 dimensions per text", async () => {
    const embedder = createEmbedder({ host: ollama.url, model: EMBED_MODEL, timeoutMs: 60_000 });
    for (const text of [ENTRY, ""]) {
      // "" too: sent as [""] it is a vector (a bare "" would get `embeddings: []`).
      const e = await embedder.embed(text);
      if (!("vector" in e)) throw new Error(e.reason);
      expect(e.vector.length).toBe(384);
      expect(Math.hypot(...e.vector)).toBeCloseTo(1, 3);
    }
  });

  it("says 'lexical only' and what to do when the model is missing, or is a chat model", async () => {
    await host("memmissing", "not-pulled");
    const missing = await call("memmissing", "semantic_search", { query: "puppy" });
    expect(missing.text).toMatch(/lexical only: embedding model 'not-pulled' .*not found.*pull it with 'ollama pull not-pulled'/);
    expect(missing.text).toContain(ENTRY);
    // A chat model answers /api/embed too (smollm2: 576 dims of nothing useful): refused by its capabilities.
    await host("memchat", CHAT_MODEL);
    const chat = await call("memchat", "semantic_search", { query: "puppy" });
    expect(chat.text).toMatch(
      new RegExp(`lexical only: embedding model '${CHAT_MODEL}' .* is not an embedding model \\(its capabilities: completion\\)`),
    );
    expect(chat.text).toContain(ENTRY);
  });
});
