/**
 * A server with a small max_payload: oversized requests are refused before anything is sent, and
 * an answer larger than one message is split across `response` chunks; what cannot be split ends
 * with a payload_too_large error and the terminator, never in silence.
 */
import type { Msg } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { InternalError, ReplyTooLargeError } from "../../../mesh/errors.ts";
import { createRoleClient, serveRole, type RoleHandler, type RoleResponder } from "../../../mesh/rolecall/index.ts";
import { CallCode, Header, PayloadTooLargeError, wireErrorName } from "../../../schemas/index.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { ANSWER, finalInfo, wordsHandler } from "../../fixtures/scripted.ts";
import { bodyOf, errorCodeOf, isTerminator, rawExchange } from "./helpers.ts";

let fixture: MeshFixture;
let agent: Mesh;
let caller: Mesh;
const responders: RoleResponder[] = [];
const runs = { count: 0 };
let seen = 0;

// About 24 KB, six times max_payload: quotes and control characters grow under JSON escaping, and
// multi-byte characters (and a surrogate pair) must not be cut in half.
const BIG = Array.from({ length: 600 }, (_, i) => `word ${i} "quoted" é中 😀\n\t`).join("");
const TOOL_RESULT = "r".repeat(10_000);

/** One delta of the whole answer, or the answer word by word in one event-loop turn. */
const big: RoleHandler = async function* (req) {
  if (req.prompt === "words") for (const w of BIG.split(/(?<= )/)) yield { type: "response", data: w };
  else yield { type: "response", data: BIG };
  yield { type: "final", data: finalInfo("h1", "big") };
};
/** What cannot be split: a tool result, tool calls in the answer's metadata, an error's message. */
const unsplittable: RoleHandler = async function* (req) {
  if (req.prompt === "error") throw new Error(`backend said: ${"e".repeat(10_000)}`);
  if (req.prompt === "calls") yield { type: "tool_call", data: { id: "c1", name: "note", arguments: { text: TOOL_RESULT } } };
  else yield { type: "tool_result", data: { id: "c1", name: "fetch", content: TOOL_RESULT } };
  yield { type: "response", data: "done" };
  yield { type: "final", data: finalInfo("h1", "unsplittable") };
};

beforeAll(async () => {
  fixture = await startMeshFixture({ server: { config: "max_payload: 4096" } });
  ({ agent, caller } = fixture);
  const common = { host: "h1", heartbeatIntervalS: 0, keepAliveMs: 100 };
  responders.push(await serveRole(agent, { ...common, role: "voice", handler: wordsHandler("h1", { runs }) }));
  responders.push(await serveRole(agent, { ...common, role: "big", handler: big }));
  responders.push(await serveRole(agent, { ...common, role: "unsplittable", handler: unsplittable }));
  agent.nc.subscribe("lyra.voice", { callback: () => void seen++ }); // a tap: sees every request that reaches the server
  await agent.nc.flush();
});
afterAll(async () => {
  await Promise.all(responders.map((r) => r.close()));
  await fixture?.[Symbol.asyncDispose]();
});

type Body = { type: string; data: unknown };
const chunks = (msgs: Msg[]) => msgs.filter((m) => !isTerminator(m) && !errorCodeOf(m)).map((m) => bodyOf(m) as Body);
const text = (msgs: Msg[]) =>
  chunks(msgs)
    .filter((c) => c.type === "response")
    .map((c) => (typeof c.data === "string" ? c.data : (c.data as { text: string }).text))
    .join("");

/** The stream ends with a 500 payload_too_large error (Lyra's 413) and the terminator. */
function expectTooLarge(msgs: Msg[]) {
  expect(isTerminator(msgs.at(-1)!)).toBe(true);
  const err = msgs.at(-2)!;
  expect(errorCodeOf(err)).toBe("500");
  const body = bodyOf(err) as { error: string; message: string; lyra_status: number };
  expect(body.error).toBe(wireErrorName[CallCode.PayloadTooLarge]);
  expect(body.lyra_status).toBe(CallCode.PayloadTooLarge);
  expect(body.message).toMatch(/over the server's max_payload of 4096 bytes/);
  return body;
}

describe("max_payload", () => {
  it("a request over the server's max_payload is refused before sending, with a typed error", async () => {
    expect(caller.maxPayload()).toBe(4096);
    const client = createRoleClient(caller);
    const err = await client.call("voice", "x".repeat(5000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as PayloadTooLargeError).limit).toBe(4096);
    await caller.nc.flush();
    expect(seen).toBe(0);
    expect(runs.count).toBe(0);
  });

  it("a request under the limit goes through", async () => {
    const r = await createRoleClient(caller).call("voice", "x".repeat(1000));
    expect(r.text).toBe(ANSWER);
    expect(seen).toBe(1);
  });
});

describe("an answer larger than max_payload", () => {
  it("not streamed: the ack, the text split across response chunks, the last with the metadata, the terminator", async () => {
    for (const prompt of ["one", "words"]) {
      const msgs = await rawExchange(caller.nc, "lyra.big", prompt);
      expect(bodyOf(msgs[0]!)).toEqual({ type: "status", data: "ack" });
      expect(isTerminator(msgs.at(-1)!)).toBe(true);
      const responses = chunks(msgs).filter((c) => c.type === "response");
      expect(responses.length).toBeGreaterThan(BIG.length / 4096);
      expect(text(msgs)).toBe(BIG);
      expect(responses.at(-1)!.data).toMatchObject({ model: "scripted", backend: "scripted", host: "h1" });
      expect(msgs.at(-2)!.headers?.get(Header.Backend)).toBe("scripted");
      console.log(`non-streamed ${prompt}: ${BIG.length} characters in ${responses.length} response chunks`);
    }
  });

  it("streamed: the deltas split, then final and the terminator", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.big", JSON.stringify({ prompt: "one", stream: true }));
    expect(text(msgs)).toBe(BIG);
    expect(chunks(msgs).at(-1)!.type).toBe("final");
    expect(isTerminator(msgs.at(-1)!)).toBe(true);
  });

  it("Lyra's client gets the whole text, first run and replay of the same request id alike", async () => {
    const client = createRoleClient(caller);
    const a = await client.call("big", "words", { requestId: "big-1" });
    expect(a.text).toBe(BIG);
    expect(a.final.model).toBe("scripted");
    const b = await client.call("big", "words", { requestId: "big-1" }); // the cache sends the text as one chunk
    expect(b.text).toBe(BIG);
  });
});

describe("a chunk that cannot be split", () => {
  it("a tool result over max_payload: payload_too_large (500, lyra_status 413) and the terminator", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.unsplittable", JSON.stringify({ prompt: "result", stream: true }));
    expect(chunks(msgs)[0]).toEqual({ type: "status", data: "ack" });
    expect(expectTooLarge(msgs).message).toMatch(/tool_result chunk/);
    const err = await createRoleClient(caller)
      .call("unsplittable", "result")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplyTooLargeError);
    expect((err as ReplyTooLargeError).status).toBe(CallCode.PayloadTooLarge);
  });

  it("tool calls too large for the non-streamed response's metadata: the same error after the text", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.unsplittable", "calls");
    expectTooLarge(msgs);
  });

  it("an error whose message is over max_payload is cut to fit, and the terminator follows", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.unsplittable", "error");
    expect(isTerminator(msgs.at(-1)!)).toBe(true);
    expect(errorCodeOf(msgs.at(-2)!)).toBe("500");
    const body = bodyOf(msgs.at(-2)!) as { message: string };
    expect(body.message).toMatch(/^backend said: e+/);
    expect(body.message).toMatch(/cut to fit max_payload/);
    const err = await createRoleClient(caller)
      .call("unsplittable", "error")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
  });

  it("the responder keeps serving", async () => {
    expect((await createRoleClient(caller).call("big", "one")).text).toBe(BIG);
  });
});
