/**
 * A resumed answer on a real model: a request whose last message is the assistant's partial
 * answer is continued, not answered afresh. SmolLM2's template (the ChatML one Ollama derives for
 * its GGUF) closes every message, so /api/chat would start a new message; the backend sends the
 * prompt raw with the last message left open (agents/backends/ollama-continue.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOllamaBackend } from "../../agents/backends/ollama.ts";
import type { ModelRequest } from "../../agents/backends/types.ts";
import { CHAT_MODEL, PATIENT, startOllama, type RealOllama } from "../harness/real.ts";

let ollama: RealOllama;
beforeAll(async () => {
  ollama = await startOllama();
});
afterAll(async () => {
  await ollama?.close();
});

const PREFIX = "The sea is vast and deep. Its waves";

describe("a partial assistant message on a real model", () => {
  it("is continued: the output goes on from the prefix and does not begin it again", async () => {
    const backend = createOllamaBackend({ host: ollama.url });
    const req: ModelRequest = {
      model: CHAT_MODEL,
      messages: [
        { role: "user", content: "Write three sentences about the sea." },
        { role: "assistant", content: PREFIX },
      ],
      options: { max_tokens: 24, temperature: 0 },
    };
    expect(await backend.canContinue!(req)).toBe(true);
    let text = "";
    let finals = 0;
    for await (const c of backend.chat(req, PATIENT)) {
      if (c.type === "delta") {
        expect(finals).toBe(0); // streamed before the final
        text += c.text;
      } else if (c.type === "final") finals++;
    }
    expect(finals).toBe(1);
    expect(text.trim().length).toBeGreaterThan(0);
    // A fresh answer would open with the sentence again (or another opening); a continuation does not.
    const opening = PREFIX.slice(0, 12).toLowerCase();
    expect(text.trimStart().toLowerCase().startsWith(opening)).toBe(false);
    expect(text.toLowerCase()).not.toContain(opening);
  });

  it("a tool request on a template that closes every message is not continued (the answer is written afresh)", async () => {
    const backend = createOllamaBackend({ host: ollama.url });
    const req: ModelRequest = {
      model: CHAT_MODEL,
      messages: [
        { role: "user", content: "What time is it?" },
        { role: "assistant", content: "It is" },
      ],
      tools: [{ name: "clock__now", description: "the time", parameters: { type: "object", properties: {} } }],
    };
    expect(await backend.canContinue!(req)).toBe(false);
  });
});
