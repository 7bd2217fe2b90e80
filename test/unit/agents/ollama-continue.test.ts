import { describe, expect, it } from "vitest";
import { chatmlFits, chatmlPrompt, Continuation, continuationOf } from "../../../agents/backends/ollama-continue.ts";

describe("continuing a final assistant message on Ollama", () => {
  it("a template with $last continues natively; ChatML by a raw prompt; any other not at all", () => {
    expect(continuationOf("{{ if not $last }}<|eot_id|>{{ end }}")).toBe(Continuation.Native);
    // The template Ollama derives for SmolLM2's GGUF: every message closed.
    const smollm2 = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n";
    expect(continuationOf(smollm2)).toBe(Continuation.ChatML);
    expect(continuationOf("[INST] {{ .Prompt }} [/INST]")).toBe(Continuation.None);
    expect(continuationOf(undefined)).toBe(Continuation.None);
  });

  it("the ChatML prompt leaves the last message open", () => {
    const p = chatmlPrompt([
      { role: "system", content: "Be brief." },
      { role: "user", content: "The sea?" },
      { role: "assistant", content: "The sea is" },
    ]);
    expect(p).toBe("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nThe sea?<|im_end|>\n<|im_start|>assistant\nThe sea is");
  });

  it("the raw path carries text only: no tools, no structured output, no images", () => {
    const messages = [{ role: "user" as const, content: "hi" }];
    expect(chatmlFits({ model: "m", messages })).toBe(true);
    expect(chatmlFits({ model: "m", messages, format: { type: "object" } })).toBe(false);
    expect(chatmlFits({ model: "m", messages, tools: [{ name: "t", description: "", parameters: {} }] })).toBe(false);
    expect(chatmlFits({ model: "m", messages: [{ role: "user", content: "see", images: ["aGk="] }] })).toBe(false);
  });
});
