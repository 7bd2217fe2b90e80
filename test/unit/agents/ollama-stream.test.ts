/** The pieces of the Ollama backend that read a stream: the <think> filter and the constrained-output parser. */
import { describe, expect, it } from "vitest";
import { constrainedParser, constrainedSchema, MAX_GRAMMAR_REPEAT } from "../../../agents/backends/ollama-constrained.ts";
import { thinkFilter } from "../../../agents/backends/think-filter.ts";
import { ConstrainedOutputError } from "../../../agents/errors.ts";

const tools = [{ name: "get_weather", description: "", parameters: { type: "object", properties: { city: { type: "string" } } } }];

describe("thinkFilter", () => {
  it("keeps <think> text out of the answer even when a tag is cut across chunks", () => {
    const f = thinkFilter();
    const parts = ["Hi <th", "ink>plan", " it</thi", "nk> there", " <"];
    const out = parts.map((p) => f.push(p));
    const end = f.flush();
    expect(out.map((o) => o.answer).join("") + end.answer).toBe("Hi  there <");
    expect(out.map((o) => o.thinking).join("") + end.thinking).toBe("plan it");
  });
});

describe("constrainedParser", () => {
  it("streams an answer string piece by piece, escapes (also cut) decoded", () => {
    const p = constrainedParser(tools, "test");
    const chunks = ['{"ans', 'wer": "a \\', '"b\\', 'u00e9" ', "}", "\n  "];
    const text = chunks
      .flatMap((c) => p.push(c))
      .map((e) => (e.type === "delta" ? e.text : ""))
      .join("");
    expect(text).toBe('a "bé');
    expect(p.complete()).toBe(true);
    expect(p.end(0)).toEqual([]);
  });

  it("a call of an offered tool becomes a tool_call; one of another tool is an error", () => {
    const p = constrainedParser(tools, "test");
    p.push('{"tool": "get_weather", "arguments": {"city": "Oslo"}}');
    expect(p.end(3)).toEqual([{ type: "tool_call", call: { id: "call_3", name: "get_weather", arguments: { city: "Oslo" } } }]);
    const q = constrainedParser(tools, "test");
    q.push('{"tool": "rm_rf", "arguments": {}}');
    expect(() => q.end(0)).toThrow(ConstrainedOutputError);
  });

  it("output cut before the object closes is a ConstrainedOutputError naming max_tokens", () => {
    const p = constrainedParser(tools, "test");
    p.push('{"tool": "get_weather", "argu');
    expect(p.complete()).toBe(false);
    expect(() => p.end(0)).toThrow(/raise max_tokens/);
  });
});

describe("constrained tool mode: a tool's schema as llama.cpp's grammar takes it", () => {
  it("caps length and count bounds past 1,000 (llama.cpp refuses past 2,000 and the runner dies), keeping the rest", () => {
    const params = {
      type: "object",
      properties: {
        text: { type: "string", minLength: 1, maxLength: 8000 },
        tags: { type: "array", items: { type: "string", maxLength: 64 }, maxItems: 5000 },
      },
      required: ["text"],
    };
    const schema = constrainedSchema([{ name: "memory__commit_journal", description: "", parameters: params }]) as {
      anyOf: { properties: { arguments: unknown } }[];
    };
    expect(schema.anyOf[1]!.properties.arguments).toEqual({
      type: "object",
      properties: {
        text: { type: "string", minLength: 1, maxLength: MAX_GRAMMAR_REPEAT },
        tags: { type: "array", items: { type: "string", maxLength: 64 }, maxItems: MAX_GRAMMAR_REPEAT },
      },
      required: ["text"],
    });
    expect(params.properties.text.maxLength).toBe(8000); // the tool's own schema is untouched
  });
});
