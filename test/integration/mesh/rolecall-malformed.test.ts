/** Malformed requests: each gets a 400 (error headers, then the terminator) and nothing breaks. */
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { createRoleClient, serveRole, type RoleResponder } from "../../../mesh/rolecall/index.ts";
import { Header } from "../../../schemas/index.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { ANSWER, wordsHandler } from "../../fixtures/scripted.ts";
import { bodyOf, errorCodeOf, isTerminator, rawExchange } from "./helpers.ts";

const packr = new Packr({ useRecords: false });
const MSGPACK = { [Header.ContentType]: "application/msgpack" };
const JSON_CT = { [Header.ContentType]: "application/json" };
const json = (v: unknown) => JSON.stringify(v);

/** Deterministic "random" bytes (xorshift), so a failure can be replayed. */
function noise(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

type Case = [name: string, body: Uint8Array | string, headers?: Record<string, string>];
const cases: Case[] = [
  ["empty body", ""],
  ["empty body, JSON content type", "", JSON_CT],
  ["empty body, msgpack content type", "", MSGPACK],
  ["invalid JSON", "{not json"],
  ["truncated JSON", '{"prompt": "hel', JSON_CT],
  ["JSON without prompt or messages", json({})],
  ["empty prompt", json({ prompt: "" })],
  ["prompt of the wrong type", json({ prompt: 42 })],
  ["empty messages", json({ messages: [] })],
  ["messages not an array", json({ messages: "hello" })],
  ["message with an unknown role", json({ messages: [{ role: "wizard", content: "x" }] })],
  ["message without content", json({ messages: [{ role: "user" }] })],
  ["negative deadline", json({ prompt: "x", deadline: -5 })],
  ["deadline not a number", json({ prompt: "x", deadline: "soon" })],
  ["stream flag not a boolean", json({ prompt: "x", stream: "yes" })],
  ["temperature out of range", json({ prompt: "x", options: { temperature: 5 } })],
  ["negative max_tokens", json({ prompt: "x", options: { max_tokens: -1 } })],
  ["tool with an empty name", json({ prompt: "x", tools: [{ name: "" }] })],
  ["too many tools", json({ prompt: "x", tools: Array.from({ length: 129 }, (_, i) => ({ name: `t${i}` })) })],
  ["too many stop strings", json({ prompt: "x", options: { stop: Array.from({ length: 17 }, () => "s") } })],
  ["too many images", json({ messages: [{ role: "user", content: "x", images: Array.from({ length: 17 }, () => "AA==") }] })],
  ["id over 128 chars", json({ prompt: "x", id: "a".repeat(200) })],
  ["id with a space", json({ prompt: "x", id: "a b" })],
  ["empty conversation", json({ prompt: "x", conversation: "" })],
  ["format not an object", json({ prompt: "x", format: "json" })],
  ["JSON array", json([1, 2, 3]), JSON_CT],
  ["JSON null", "null", JSON_CT],
  ["JSON string", json("just a string"), JSON_CT],
  ["random bytes as msgpack (1)", noise(1, 64), MSGPACK],
  ["random bytes as msgpack (2)", noise(7, 300), MSGPACK],
  ["random bytes as msgpack (3)", noise(42, 17), MSGPACK],
  ["reserved msgpack byte", new Uint8Array([0xc1]), MSGPACK],
  ["truncated msgpack", packr.pack({ prompt: "hello there" }).subarray(0, 6), MSGPACK],
  ["msgpack number", packr.pack(42), MSGPACK],
  ["msgpack prompt of the wrong type", packr.pack({ prompt: 123 }), MSGPACK],
  ["msgpack message content of the wrong type", packr.pack({ messages: [{ role: "user", content: 5 }] }), MSGPACK],
  ["unsupported content type", "<prompt>hi</prompt>", { [Header.ContentType]: "application/xml" }],
  ["invalid UTF-8 text", new Uint8Array([0xff, 0xfe, 0x41])],
  ["invalid UTF-8 with text/plain", new Uint8Array([0x68, 0xc3, 0x28]), { [Header.ContentType]: "text/plain" }],
  ["negative Lyra-Deadline header", "hello", { [Header.Deadline]: "-1" }],
  ["Lyra-Deadline not a number", "hello", { [Header.Deadline]: "tomorrow" }],
  ["request id with a dot", "hello", { [Header.RequestId]: "has.dots" }],
  ["request id with a wildcard", "hello", { [Header.RequestId]: "*" }],
];

let fixture: MeshFixture;
let agent: Mesh;
let caller: Mesh;
let responder: RoleResponder;
const runs = { count: 0 };

beforeAll(async () => {
  fixture = await startMeshFixture();
  ({ agent, caller } = fixture);
  responder = await serveRole(agent, { role: "voice", host: "h1", handler: wordsHandler("h1", { runs }), heartbeatIntervalS: 0 });
  await agent.nc.flush();
});
afterAll(async () => {
  await responder?.close();
  await fixture?.[Symbol.asyncDispose]();
});

describe("malformed requests", () => {
  it("has at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)("%s: 400, then the terminator", async (_name, body, headers) => {
    const msgs = await rawExchange(caller.nc, "lyra.voice", body, headers);
    expect(msgs).toHaveLength(2);
    expect(errorCodeOf(msgs[0]!)).toBe("400");
    expect(bodyOf(msgs[0]!)).toMatchObject({ error: "bad_request", message: expect.any(String) as string });
    expect(isTerminator(msgs[1]!)).toBe(true);
  });

  it("the validation detail is in the message, and the handler never ran", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.voice", json({ prompt: "x", options: { temperature: 5 } }));
    expect((bodyOf(msgs[0]!) as { message: string }).message).toContain("options.temperature");
    expect(runs.count).toBe(0);
  });

  it("the responder still serves a valid request afterwards", async () => {
    const r = await createRoleClient(caller).call("voice", "hello");
    expect(r.text).toBe(ANSWER);
    expect(runs.count).toBe(1);
    expect(responder.inFlight()).toBe(0);
  });
});
