/** Malformed requests to `lyra serve`: each gets a clear OpenAI-shaped error, and nothing breaks. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../conductor/helpers.ts";
import { serveFixture, type ServeFixture } from "./serve-helpers.ts";

let f: ServeFixture;
beforeAll(async () => {
  f = await serveFixture({ serve: { maxBody: 64 * 1024 } });
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

const user = (content: unknown) => ({ role: "user", content });
const ok = { model: "lyra", messages: [user("hi")] };
const json = (v: unknown) => JSON.stringify(v);

interface Case {
  name: string;
  body: string;
  headers?: Record<string, string>;
  path?: string;
  status: number;
  /** The error's param, when it names one. */
  param?: string | null;
  /** A piece of the message that tells the caller what to fix. */
  says: string | RegExp;
}

const cases: Case[] = [
  { name: "body that is not JSON", body: "{model: lyra", status: 400, says: "not valid JSON" },
  { name: "empty body", body: "", status: 400, says: "not valid JSON" },
  { name: "a JSON array", body: json([ok]), status: 400, says: "must be a JSON object" },
  { name: "JSON null", body: "null", status: 400, says: "must be a JSON object" },
  { name: "a JSON string", body: json("hello"), status: 400, says: "must be a JSON object" },
  { name: "no model", body: json({ messages: [user("hi")] }), status: 400, param: "model", says: "model is required" },
  { name: "model is a number", body: json({ ...ok, model: 4 }), status: 400, param: "model", says: "model is required" },
  { name: "empty model", body: json({ ...ok, model: "" }), status: 400, param: "model", says: "must not be empty" },
  { name: "no messages", body: json({ model: "lyra" }), status: 400, param: "messages", says: "messages is required" },
  {
    name: "messages is an object",
    body: json({ model: "lyra", messages: user("hi") }),
    status: 400,
    param: "messages",
    says: "messages is required",
  },
  { name: "empty messages", body: json({ model: "lyra", messages: [] }), status: 400, param: "messages", says: "at least one message" },
  {
    name: "message without role",
    body: json({ model: "lyra", messages: [{ content: "hi" }] }),
    status: 400,
    param: "messages[0].role",
    says: "role must be one of",
  },
  {
    name: "unknown role",
    body: json({ model: "lyra", messages: [{ role: "wizard", content: "hi" }] }),
    status: 400,
    param: "messages[0].role",
    says: "role must be one of",
  },
  {
    name: "content is a number",
    body: json({ model: "lyra", messages: [user(42)] }),
    status: 400,
    param: "messages[0].content",
    says: "string or an array of text parts",
  },
  {
    name: "image part",
    body: json({ model: "lyra", messages: [user([{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }])] }),
    status: 400,
    param: "messages[0].content[0]",
    says: "'image_url' are not supported",
  },
  {
    name: "text part without text",
    body: json({ model: "lyra", messages: [user([{ type: "text" }])] }),
    status: 400,
    param: "messages[0].content[0]",
    says: "a text part is",
  },
  {
    name: "unknown field in a message",
    body: json({ model: "lyra", messages: [{ role: "user", content: "hi", mood: "sad" }] }),
    status: 400,
    param: "messages[0].mood",
    says: "Unrecognized request argument supplied: messages[0].mood",
  },
  {
    name: "tool message without tool_call_id",
    body: json({ model: "lyra/voice", messages: [user("hi"), { role: "tool", content: "42" }] }),
    status: 400,
    param: "messages[1].tool_call_id",
    says: "tool_call_id",
  },
  {
    name: "last message is the assistant's (model lyra)",
    body: json({ model: "lyra", messages: [user("hi"), { role: "assistant", content: "hello" }] }),
    status: 400,
    param: "messages[1].role",
    says: "last message must be the user's",
  },
  {
    name: "blank last user message",
    body: json({ model: "lyra", messages: [user("   ")] }),
    status: 400,
    param: "messages[0].content",
    says: "has no text",
  },
  {
    name: "user message over 32,000 characters",
    body: json({ model: "lyra", messages: [user("x".repeat(32_001))] }),
    status: 400,
    param: "messages[0].content",
    says: "the most is 32000",
  },
  { name: "temperature above 2", body: json({ ...ok, temperature: 3 }), status: 400, param: "temperature", says: "<=2" },
  { name: "top_p below 0", body: json({ ...ok, top_p: -0.5 }), status: 400, param: "top_p", says: ">=0" },
  { name: "max_tokens 0", body: json({ ...ok, max_tokens: 0 }), status: 400, param: "max_tokens", says: ">0" },
  {
    name: "max_tokens not whole",
    body: json({ ...ok, max_tokens: 1.5 }),
    status: 400,
    param: "max_tokens",
    says: "must be a whole number",
  },
  { name: "seed not whole", body: json({ ...ok, seed: 0.5 }), status: 400, param: "seed", says: "must be a whole number" },
  { name: "n = 2", body: json({ ...ok, n: 2 }), status: 400, param: "n", says: "n must be 1" },
  { name: "stream is a string", body: json({ ...ok, stream: "yes" }), status: 400, param: "stream", says: "boolean" },
  {
    name: "stream_options without stream",
    body: json({ ...ok, stream_options: { include_usage: true } }),
    status: 400,
    param: "stream_options",
    says: "only allowed when stream is true",
  },
  {
    name: "five stop sequences",
    body: json({ ...ok, stop: ["a", "b", "c", "d", "e"] }),
    status: 400,
    param: "stop",
    says: "a list of at most 4 strings",
  },
  {
    name: "a misspelt field",
    body: json({ ...ok, strem: true }),
    status: 400,
    param: "strem",
    says: "Unrecognized request argument supplied: strem",
  },
  {
    name: "client-side tools",
    body: json({ ...ok, tools: [{ type: "function", function: { name: "f" } }] }),
    status: 400,
    param: "tools",
    says: "not supported",
  },
  {
    name: "structured output",
    body: json({ ...ok, response_format: { type: "json_object" } }),
    status: 400,
    param: "response_format.type",
    says: "structured output is not supported",
  },
  { name: "empty user field", body: json({ ...ok, user: "" }), status: 400, param: "user", says: "user must not be empty" },
  {
    name: "conversation header with a dot",
    body: json(ok),
    headers: { "X-Lyra-Conversation": "a.b" },
    status: 400,
    param: "X-Lyra-Conversation",
    says: "letters, digits",
  },
  {
    name: "form-encoded body",
    body: "model=lyra",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    status: 415,
    says: "Content-Type must be application/json",
  },
  { name: "body over serve.max_body", body: json({ ...ok, messages: [user("x".repeat(70_000))] }), status: 413, says: "over 65536 bytes" },
  { name: "unknown route", path: "/completions", body: json(ok), status: 404, says: "Invalid URL (POST /v1/completions)" },
];

describe("lyra serve refuses malformed requests", () => {
  it.each(cases)("$name → $status", async (c) => {
    const res = await f.post(c.path ?? "/chat/completions", c.body, c.headers);
    expect(res.status).toBe(c.status);
    const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(body.error.type).toBe("invalid_request_error");
    if (c.param !== undefined) expect(body.error.param).toBe(c.param);
    if (typeof c.says === "string") expect(body.error.message).toContain(c.says);
    else expect(body.error.message).toMatch(c.says);
  });

  it("still answers a good request after all of them", async () => {
    const r = await f.client.chat.completions.create({
      model: "lyra",
      messages: [{ role: "user", content: "How do I repot basil?" }],
      user: newId("u"),
    });
    expect(r.choices[0]!.message.content).toBe("Lyra says: Pragmatist answer to: How do I repot basil?");
  });

  it("answers GET on the completions route with 405", async () => {
    const res = await fetch(`${f.serve.url}/chat/completions`, { headers: { Authorization: "Bearer sk-test-one" } });
    expect(res.status).toBe(405);
  });
});
