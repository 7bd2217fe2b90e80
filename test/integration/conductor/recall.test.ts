/**
 * memory.auto_recall end to end: a memory written for one user is recalled into the specialist's
 * context before it answers (its Ollama request holds it), the recall is a step in the
 * conversation log, and another user's turn recalls none of it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";
import { createMcpClient, meshRequest, MetaKey } from "../../../tools/caller.ts";
import type { NatsServer } from "../../harness/nats-server.ts";
import { startOllamaDouble, type OllamaChatBody, type OllamaDouble, isVoiceChat } from "../../doubles/ollama.ts";
import { logOf, newId } from "./helpers.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { startCommittee } from "../../harness/conductor.ts";

const lastUser = (b: OllamaChatBody) => b.messages?.findLast((m) => m.role === "user")?.content ?? "";
const isVoice = isVoiceChat;

function yaml(natsUrl: string, ollamaUrl: string, dbPath: string): string {
  const role = (kind: string, extra = "") => `{ kind: ${kind}, model: qwen3:4b, backend: ollama, slots: 4${extra} }`;
  return `
mesh: { name: test, owner: tester }
nats: { servers: ["${natsUrl}"] }
tools:
  servers:
    memory: { builtin: memory, options: { path: "${dbPath}", ollama_url: "${ollamaUrl}" } }
memory: { auto_recall: true, top_k: 2 }
roles:
  router: ${role("router")}
  pragmatist: ${role("specialist", ", tools: ['memory.*'], description: practical")}
  voice: ${role("voice")}
router: { default_specialist: pragmatist }
hosts:
  local: { ollama_url: ${ollamaUrl}, roles: [router, pragmatist, voice] }
conductor: { ack_wait_ms: 5000 }
`;
}

describe("memory.auto_recall", () => {
  let fx: MeshFixture;
  let nats: NatsServer;
  let mesh: Mesh;
  let ollama: OllamaDouble;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lyra-recall-"));
    fx = await startMeshFixture({ server: { jetstream: true } });
    ({ server: nats, caller: mesh } = fx);
    ollama = fx.own(
      await startOllamaDouble({
        models: ["qwen3:4b", "nomic-embed-text"],
        json: () => ({ specialist: "pragmatist", confidence: 0.9, reason: "only one" }),
        reply: (b) => (b.format !== undefined ? "" : isVoice(b) ? `Lyra: ${lastUser(b)}` : `Noted: ${lastUser(b)}`),
      }),
    );
    const config = parseMeshConfig(yaml(nats.url, ollama.url, join(dir, "memory.db")), { source: "recall test", env: {} });
    fx.own(await startCommittee(fx.agent, config, { tools: true }));
  });
  afterAll(async () => {
    await fx?.[Symbol.asyncDispose]();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ask = async (user: string, conversation: string, text: string) => {
    const id = newId();
    const watch = watchReplies(mesh, "cli", conversation, id);
    await mesh.nc.flush();
    await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: user }, text });
    for await (const o of watch) if (o.final) return o;
    throw new Error("no reply");
  };
  const specialistChat = (q: string) => ollama.chats().find((b) => b.format === undefined && !isVoice(b) && lastUser(b) === q);

  it("recalls the user's memory into the specialist's context and logs the recall step; another user gets none", async () => {
    const mcp = createMcpClient(mesh, { tenant: "test" });
    const r = await mcp.request(
      "memory",
      meshRequest(
        "tools/call",
        { name: "commit_journal", arguments: { text: "Dana is allergic to peanuts", significance: 0.9 } },
        { [MetaKey.User]: "dana", [MetaKey.Conversation]: "old" },
      ),
    );
    await mcp.close();
    expect("result" in r && !(r.result as { isError?: boolean }).isError).toBe(true);

    const q = "suggest a snack with peanuts";
    await ask("dana", "recall1", q);
    const chat = specialistChat(q)!;
    const memo = chat.messages!.find((m) => m.role === "system" && m.content.includes("Memories of this user"));
    expect(memo?.content).toContain("allergic to peanuts");
    const events = await logOf(mesh, "recall1");
    expect(events.find((e) => e.type === "tool_call")).toMatchObject({
      role: "pragmatist",
      server: "memory",
      tool: "recall",
      call: "auto-recall",
    });
    expect(events.find((e) => e.type === "tool_result")).toMatchObject({
      role: "pragmatist",
      server: "memory",
      tool: "recall",
      is_error: false,
    });
    expect((events.find((e) => e.type === "tool_result") as { outcome: string }).outcome).toContain("allergic to peanuts");

    const q2 = "peanuts snack ideas please";
    await ask("erin", "recall2", q2);
    const other = specialistChat(q2)!;
    expect(JSON.stringify(other.messages)).not.toContain("allergic");
    const events2 = await logOf(mesh, "recall2");
    expect((events2.find((e) => e.type === "tool_result") as { outcome: string }).outcome).not.toContain("allergic");
  });
});
