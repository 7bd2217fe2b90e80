/**
 * The prompt's prefix is byte-stable across turns, so a replica's prefix cache (Ollama keeps each
 * slot's KV cache of the last prompt) serves a follow-up turn without re-reading the history: the
 * JSON each role's request carries to Ollama (the double records it) starts with the previous
 * turn's messages, byte for byte, with the same tool definitions and num_ctx.
 */
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { startOllamaDouble, type OllamaChatBody } from "../../doubles/ollama.ts";
import { askTurn, serveConfig } from "./helpers.ts";

const SYSTEM = { router: "You route.", pragmatist: "You are the pragmatist.", voice: "You are Lyra." } as const;
type Role = keyof typeof SYSTEM;
const bytes = (v: unknown) => JSON.stringify(v);

describe("the prompt prefix across turns", () => {
  it("each role's request starts with the previous turn's, byte for byte (the voice: up to the user's message)", async () => {
    await using ollama = await startOllamaDouble({
      models: ["qwen3:4b"],
      json: () => ({ specialist: "pragmatist", confidence: 0.9, reason: "practical" }),
      reply: (b) => `Answer ${b.messages?.length} to ${b.messages?.findLast((m) => m.role === "user")?.content}`,
    });
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const config = committeeConfig({ natsUrl: server.url, backend: "ollama", ollamaUrl: ollama.url, clock: true });
    for (const [role, prompt] of Object.entries(SYSTEM)) config.roles[role]!.system_prompt = prompt;
    const committee = await serveConfig(mesh, config);
    try {
      for (const text of ["How do I boil an egg?", "And a soft one?", "How long for hard?"]) await askTurn(mesh, "prefix1", text);
    } finally {
      await committee.close();
    }

    const byRole = (role: Role) =>
      ollama.chats().filter((c) => c.messages?.[0]?.role === "system" && c.messages[0].content.startsWith(SYSTEM[role]));
    const upToUser = (c: OllamaChatBody) =>
      c.messages!.slice(
        0,
        c.messages!.findIndex((m) => m.role === "system" && m !== c.messages![0]),
      );
    for (const role of ["router", "pragmatist", "voice"] as const) {
      const turns = byRole(role);
      expect(turns, role).toHaveLength(3);
      for (let i = 1; i < turns.length; i++) {
        const [prev, next] = [turns[i - 1]!, turns[i]!];
        const prefix = role === "voice" ? upToUser(prev) : prev.messages!;
        expect(prefix.length, role).toBeGreaterThan(1);
        expect(bytes(next.messages!.slice(0, prefix.length)), `${role} turn ${i + 1}`).toBe(bytes(prefix));
        expect(next.messages!.length).toBeGreaterThan(prefix.length);
        expect(bytes(next.tools), `${role} tools`).toBe(bytes(prev.tools));
        expect(next.options?.num_ctx, `${role} num_ctx`).toBe(prev.options?.num_ctx);
      }
    }
    // The pragmatist is offered its tool in every turn: the definitions are part of the prefix.
    expect(byRole("pragmatist")[0]!.tools?.map((t) => t.function.name)).toEqual(["clock__now"]);
  });
});
