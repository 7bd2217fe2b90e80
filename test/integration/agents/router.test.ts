/** The router role: schema-constrained output picks a specialist; an unusable answer goes to the default. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { OllamaChatBody, OllamaDouble } from "../../doubles/ollama.ts";
import { ROUTER_MODEL, within } from "./helpers.ts";
import { startAgentFixture, type AgentFixture } from "./fixture.ts";

let fx: AgentFixture;
let ollama: OllamaDouble;
let client: RoleClient;
/** What the (double of the) router model answers next. */
let modelAnswer: unknown;

beforeAll(async () => {
  fx = await startAgentFixture({
    ollama: { models: [ROUTER_MODEL], json: () => modelAnswer },
    // The host serves only the router; the specialists exist in the config, as on a real mesh.
    config: { hosts: { local: { roles: ["router"] } } },
  });
  ({ ollama, client } = fx);
});

afterAll(() => fx?.[Symbol.asyncDispose]());

beforeEach(() => {
  modelAnswer = undefined;
});

const route = async (prompt: string) => {
  const r = await within(client.call("router", prompt), 15_000, "the router call");
  return { choice: JSON.parse(r.text) as { specialist: string; confidence: number; reason: string }, final: r.final };
};

describe("agent host: the router", () => {
  it("asks Ollama for schema-constrained output and passes the model's choice on", async () => {
    modelAnswer = { specialist: "philosopher", confidence: 0.9, reason: "a why-question" };
    const { choice, final } = await route("Why do we dream?");
    expect(choice).toEqual({ specialist: "philosopher", confidence: 0.9, reason: "a why-question", decided_by: "llm" });
    expect(final).toMatchObject({ backend: "ollama", model: ROUTER_MODEL, host: "local", role: "router" });
    // The model was given a JSON schema whose specialist is an enum of the configured specialists.
    const chat = ollama.requests.findLast((r) => r.path === "/api/chat")?.body as OllamaChatBody;
    const format = chat.format as { properties: { specialist: { enum: string[] } }; required: string[] };
    expect(format.properties.specialist.enum.sort()).toEqual(["philosopher", "pragmatist"]);
    expect(format.required).toEqual(expect.arrayContaining(["specialist", "confidence", "reason"]));
    expect(chat.messages?.[0]?.content).toContain("philosopher: why-questions and meaning");
  });

  it("bounds the reason in the schema, so a small model's answer fits its max_tokens", async () => {
    // Real Ollama's grammar honours maxLength: without it SmolLM2's reasons ran past 48 tokens, cut mid-JSON.
    modelAnswer = { specialist: "philosopher", confidence: 0.5, reason: "a why-question" };
    await route("Why is the sky blue?");
    const chat = ollama.requests.findLast((r) => r.path === "/api/chat")?.body as OllamaChatBody;
    expect((chat.format as { properties: { reason: { maxLength?: number } } }).properties.reason.maxLength).toBe(120);
  });

  it("an off-schema answer ({foo: 1}) falls to the default specialist, and says why", async () => {
    modelAnswer = { foo: 1 };
    const { choice, final } = await route("How do I fix a flat tyre?");
    expect(choice.specialist).toBe("pragmatist");
    expect(choice.confidence).toBe(0);
    expect(choice.reason).toMatch(/off-schema/);
    expect(choice.reason).toContain("default specialist 'pragmatist'");
    expect(final.backend).toBe("ollama");
  });

  it("a bare string instead of the object is off-schema as well", async () => {
    modelAnswer = "philosopher";
    const { choice } = await route("Why?");
    expect(choice.specialist).toBe("pragmatist");
    expect(choice.reason).toMatch(/off-schema/);
  });

  it("a specialist that does not exist falls to the default specialist, naming it", async () => {
    modelAnswer = { specialist: "astrologer", confidence: 0.7, reason: "stars" };
    const { choice } = await route("What does my horoscope say?");
    expect(choice).toMatchObject({ specialist: "pragmatist", confidence: 0 });
    expect(choice.reason).toBe("router named unknown specialist 'astrologer'; default specialist 'pragmatist'");
  });

  it("a confidence out of 0..1 (smollm2:135m answers 2: the grammar does not bound numbers) is clamped; the choice stands", async () => {
    modelAnswer = { specialist: "philosopher", confidence: 2, reason: "a why-question" };
    const { choice } = await route("Why do we dream?");
    expect(choice).toEqual({ specialist: "philosopher", confidence: 1, reason: "a why-question", decided_by: "llm" });
  });
});
