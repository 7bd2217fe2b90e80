/**
 * The Ollama backend against real Ollama and a real small model: text streams before the final,
 * usage and timings are the model's, and a JSON schema constrains the answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOllamaBackend } from "../../agents/backends/ollama.ts";
import type { ModelChunk } from "../../agents/backends/types.ts";
import { CHAT_MODEL, PATIENT, startOllama, type RealOllama } from "../harness/real.ts";

let ollama: RealOllama;
beforeAll(async () => {
  ollama = await startOllama();
});
afterAll(async () => {
  await ollama?.close();
});

describe("the Ollama backend on a real model", () => {
  it("streams text deltas before a final chunk with real usage and timings", async () => {
    const backend = createOllamaBackend({ host: ollama.url });
    const chunks: ModelChunk[] = [];
    for await (const c of backend.chat(
      {
        model: CHAT_MODEL,
        messages: [{ role: "user", content: "Name one colour." }],
        options: { max_tokens: 16 },
      },
      PATIENT,
    ))
      chunks.push(c);
    const deltas = chunks.filter((c) => c.type === "delta");
    expect(deltas.length).toBeGreaterThan(0);
    expect(
      deltas
        .map((d) => (d.type === "delta" ? d.text : ""))
        .join("")
        .trim().length,
    ).toBeGreaterThan(0);
    const final = chunks.at(-1)!;
    expect(final.type).toBe("final");
    if (final.type !== "final") return;
    expect(final.model).toBe(CHAT_MODEL);
    expect(final.usage.completion_tokens).toBeGreaterThan(0);
    expect(final.usage.completion_tokens).toBeLessThanOrEqual(16);
    expect(final.usage.prompt_tokens).toBeGreaterThan(0);
    expect(chunks.indexOf(deltas[0]!)).toBeLessThan(chunks.indexOf(final));
  });

  it("answers within a JSON schema given as format", async () => {
    const backend = createOllamaBackend({ host: ollama.url });
    const schema = { type: "object", properties: { colour: { type: "string", enum: ["red", "green", "blue"] } }, required: ["colour"] };
    let text = "";
    let tokens = 0;
    for await (const c of backend.chat({
      model: CHAT_MODEL,
      messages: [{ role: "user", content: "Pick a colour." }],
      format: schema,
      options: { max_tokens: 64 },
    })) {
      if (c.type === "delta") text += c.text;
      else if (c.type === "final") tokens = c.usage.completion_tokens;
    }
    expect(["red", "green", "blue"]).toContain((JSON.parse(text) as { colour: string }).colour);
    // The backend stops at the end of the JSON: the model would pad with whitespace to max_tokens.
    expect(tokens).toBeLessThan(64);
  });
});
