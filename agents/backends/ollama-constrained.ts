/**
 * Constrained tool-call mode, for models whose chat template has no tools (Ollama answers 400
 * "does not support tools" when `tools` is sent to them). The request's tools become one `format`
 * JSON schema -- a call of ONE offered tool with its own parameters schema, or a final answer --
 * and the model's JSON comes back as the same `tool_call` chunks / text deltas native mode gives,
 * so the tool loop, the conversation log and the step limits do not know which mode ran.
 * Ollama does not take `format` and `tools` together, so this request never sends `tools`.
 */
import type { ChatMessage, ToolCall, ToolSpec } from "../../schemas/index.ts";
import { ConstrainedOutputError } from "../errors.ts";
import type { ModelRequest } from "./types.ts";

/** `{"answer": text}` or `{"tool": name, "arguments": {...}}` for each offered tool. */
export function constrainedSchema(tools: readonly ToolSpec[]): Record<string, unknown> {
  // `answer` first: a model that answers starts with the key whose string can stream at once.
  return {
    anyOf: [
      { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] },
      ...tools.map((t) => ({
        type: "object",
        properties: { tool: { const: t.name }, arguments: grammarSafe(t.parameters) },
        required: ["tool", "arguments"],
      })),
    ],
  };
}

/**
 * Largest repetition bound left in a tool's schema. llama.cpp refuses a grammar with a bound past
 * 2,000 ("number of repetitions exceeds sane defaults") and Ollama's runner dies on it: the memory
 * server's `text` (maxLength 8000) took the specialist down. The tool server still checks the
 * real bound, and the model reads its error.
 */
export const MAX_GRAMMAR_REPEAT = 1000;
const BOUNDS = ["maxLength", "maxItems", "maxProperties", "minLength", "minItems"] as const;

/** A copy of a JSON schema whose length and count bounds fit llama.cpp's grammar. */
export function grammarSafe(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(grammarSafe);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if ((BOUNDS as readonly string[]).includes(k) && typeof v === "number") out[k] = Math.min(v, MAX_GRAMMAR_REPEAT);
    else out[k] = grammarSafe(v);
  }
  return out;
}

const instructions = (tools: readonly ToolSpec[]) =>
  [
    "You can call tools. Reply with exactly one JSON object:",
    '- to call a tool: {"tool": "<name>", "arguments": {...}}',
    '- to answer the user: {"answer": "<your answer>"}',
    "Tools:",
    ...tools.map((t) => `- ${t.name}: ${t.description || "(no description)"} Arguments schema: ${JSON.stringify(t.parameters)}`),
  ].join("\n");

/**
 * The request as a template without tools can render it: the tool list in the system prompt,
 * earlier calls as the JSON the model wrote, results as user turns (such templates drop
 * `tool_calls` and may drop `role: tool`).
 */
export function constrainedRequest(req: ModelRequest): ModelRequest {
  const tools = req.tools ?? [];
  const messages: ChatMessage[] = req.messages.map((m) => {
    if (m.role === "assistant" && m.tool_calls?.length) {
      const content = m.tool_calls.map((c) => JSON.stringify({ tool: c.name, arguments: c.arguments })).join("\n");
      return { role: "assistant", content };
    }
    if (m.role === "tool") return { role: "user", content: `Result of tool ${m.tool_name ?? m.tool_call_id ?? "call"}: ${m.content}` };
    return m;
  });
  const sys = messages.findIndex((m) => m.role === "system");
  const note = instructions(tools);
  if (sys >= 0) messages[sys] = { ...messages[sys]!, content: `${messages[sys]!.content}\n\n${note}` };
  else messages.unshift({ role: "system", content: note });
  const { tools: _omit, ...rest } = req;
  return { ...rest, messages, format: constrainedSchema(tools) };
}

export type ConstrainedEvent = { type: "delta"; text: string } | { type: "tool_call"; call: ToolCall };

/**
 * Finds where a streamed JSON document's top-level object ends. After it the grammar Ollama builds
 * from `format` allows only whitespace, which a small model generates up to max_tokens (SmolLM2
 * 135M does), so the backend stops reading there.
 */
export function jsonEnd(): { push(text: string): void; complete(): boolean } {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let complete = false;
  return {
    push(text) {
      for (const ch of text) {
        if (complete) return;
        if (inString) {
          if (escaped) escaped = false;
          else if (ch === "\\") escaped = true;
          else if (ch === '"') inString = false;
        } else if (ch === '"') inString = true;
        else if (ch === "{") depth++;
        else if (ch === "}" && --depth === 0) complete = true;
      }
    },
    complete: () => complete,
  };
}

/**
 * Reads the model's JSON as it streams. An answer's string is streamed as it is generated (the
 * grammar puts `"answer"` first, so the prefix tells the branch); a call is parsed at the end.
 */
export function constrainedParser(tools: readonly ToolSpec[], where: string) {
  let buf = "";
  let answerAt = -1; // index in buf where the answer string's characters start
  let emitted = 0; // characters of the answer string already decoded and sent
  let closed = false;
  const end = jsonEnd();
  const names = new Set(tools.map((t) => t.name));

  /** Decodes the answer string from answerAt as far as it is complete; sets closed at its end quote. */
  function decodeAnswer(): string {
    let out = "";
    let i = answerAt + emitted;
    while (i < buf.length) {
      const ch = buf[i]!;
      if (ch === '"') {
        closed = true;
        break;
      }
      if (ch === "\\") {
        const esc = buf[i + 1];
        if (esc === undefined) break;
        const len = esc === "u" ? 6 : 2;
        if (i + len > buf.length) break;
        try {
          out += JSON.parse(`"${buf.slice(i, i + len)}"`) as string;
        } catch {
          out += buf.slice(i, i + len);
        }
        i += len;
        continue;
      }
      out += ch;
      i++;
    }
    emitted = i - answerAt;
    return out;
  }

  return {
    /** The JSON document is complete; what follows is padding. */
    complete: () => end.complete(),
    push(text: string): ConstrainedEvent[] {
      end.push(text);
      buf += text;
      if (answerAt < 0) {
        const m = /^\s*\{\s*"answer"\s*:\s*"/.exec(buf);
        if (!m) return [];
        answerAt = m[0].length;
      }
      if (closed) return [];
      const t = decodeAnswer();
      return t ? [{ type: "delta", text: t }] : [];
    },
    end(n: number): ConstrainedEvent[] {
      if (answerAt >= 0) return []; // already streamed; a cut answer is still the answer so far
      let doc: unknown;
      try {
        doc = JSON.parse(buf);
      } catch (err) {
        throw new ConstrainedOutputError(
          `the model's constrained tool-call output is not complete JSON (${JSON.stringify(buf.slice(0, 200))}); ` +
            `raise max_tokens for this role`,
          { backend: "ollama", where, cause: err },
        );
      }
      const d = doc as { tool?: unknown; arguments?: unknown; answer?: unknown };
      if (typeof d.answer === "string") return d.answer ? [{ type: "delta", text: d.answer }] : [];
      if (typeof d.tool === "string" && names.has(d.tool)) {
        const args = d.arguments && typeof d.arguments === "object" ? (d.arguments as Record<string, unknown>) : {};
        return [{ type: "tool_call", call: { id: `call_${n}`, name: d.tool, arguments: args } }];
      }
      throw new ConstrainedOutputError(
        `the model's constrained output is neither an answer nor a call of an offered tool: ${JSON.stringify(buf.slice(0, 200))}`,
        { backend: "ollama", where },
      );
    },
  };
}
