/** The wire as a raw NATS client sees it: chunk sequences, encodings, terminator, error headers. */
import { setTimeout as sleep } from "node:timers/promises";
import type { Msg } from "@nats-io/nats-core";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { ForbiddenError, InternalError, RoleCallError, UnavailableError } from "../../../mesh/errors.ts";
import { createRoleClient, serveRole, type RoleHandler, type RoleResponder } from "../../../mesh/rolecall/index.ts";
import { MeshError } from "../../../mesh/errors.ts";
import { CallCode, Header, InvalidBodyError, WireCode } from "../../../schemas/index.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { ANSWER, finalInfo, wordsHandler } from "../../fixtures/scripted.ts";
import { bodyOf, errorCodeOf, isTerminator, rawExchange } from "./helpers.ts";

const packr = new Packr({ useRecords: false });
let fixture: MeshFixture;
let agent: Mesh;
let caller: Mesh;
const responders: RoleResponder[] = [];

/** Fails according to the prompt, answers otherwise. */
const failing: RoleHandler = async function* (req, ctx) {
  if (req.prompt === "boom") throw new Error("kaboom");
  if (req.prompt === "nobackend") throw new UnavailableError(CallCode.Unavailable, "fails", "ollama is down");
  if (req.prompt === "forbidden") throw new ForbiddenError(WireCode.Forbidden, "fails", "tool not granted");
  if (req.prompt === "trace") yield { type: "response", data: `${ctx.headers?.get("traceparent")} ${ctx.conversation} ${ctx.requestId}` };
  else yield { type: "response", data: "fine" };
};

const slowStatus: RoleHandler = async function* (_req, ctx) {
  yield { type: "status", data: "loading" };
  await sleep(450, undefined, { signal: ctx.signal });
  yield { type: "tool_call", data: { id: "c1", name: "clock", arguments: {} } };
  yield { type: "tool_result", data: { id: "c1", name: "clock", content: "noon" } };
  yield { type: "response", data: "it is noon" };
  yield { type: "final", data: finalInfo("h1", "slow") };
};

beforeAll(async () => {
  fixture = await startMeshFixture();
  ({ agent, caller } = fixture);
  const common = { host: "h1", heartbeatIntervalS: 0, keepAliveMs: 100 };
  responders.push(await serveRole(agent, { ...common, role: "voice", handler: wordsHandler("h1") }));
  responders.push(await serveRole(agent, { ...common, role: "fails", handler: failing }));
  responders.push(await serveRole(agent, { ...common, role: "slow", handler: slowStatus }));
  await agent.nc.flush();
});
afterAll(async () => {
  await Promise.all(responders.map((r) => r.close()));
  await fixture?.[Symbol.asyncDispose]();
});

/** Each reply as its chunk type (status chunks as "status:<data>"), the terminator as "end". */
function kinds(msgs: Msg[]): string[] {
  return msgs.map((m) => {
    if (isTerminator(m)) return "end";
    const b = bodyOf(m) as { type: string; data: unknown };
    return b.type === "status" ? `status:${String(b.data)}` : b.type;
  });
}

describe("non-streaming replies", () => {
  it("a plain-text request gets the ack, one JSON response chunk with the whole answer, then the terminator", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.voice", "hello");
    expect(kinds(msgs)).toEqual(["status:ack", "response", "end"]);
    expect(msgs[1]!.headers?.get(Header.ContentType)).toBe("application/json");
    expect(bodyOf(msgs[1]!)).toMatchObject({ type: "response", data: { text: ANSWER, model: "scripted", host: "h1" } });
  });

  it("a JSON request without the stream flag gets one response chunk, then the terminator", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.voice", JSON.stringify({ messages: [{ role: "user", content: "hi" }] }), {
      [Header.ContentType]: "application/json",
    });
    expect(kinds(msgs)).toEqual(["status:ack", "response", "end"]);
    expect((bodyOf(msgs[1]!) as { data: { text: string } }).data.text).toBe(ANSWER);
  });

  it("a msgpack request is answered in msgpack, tool calls included; keep-alives while it works", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.slow", packr.pack({ prompt: "time?" }), {
      [Header.ContentType]: "application/msgpack",
    });
    for (const m of msgs.slice(0, -1)) expect(m.headers?.get(Header.ContentType)).toBe("application/msgpack");
    const k = kinds(msgs);
    expect(k[0]).toBe("status:ack");
    expect(k.slice(-2)).toEqual(["response", "end"]);
    // Not streamed, so no deltas or tool events: only the handler's status as keep-alives between.
    expect(new Set(k.slice(1, -2))).toEqual(new Set(["status:loading"]));
    expect(packr.unpack(msgs.at(-2)!.data)).toMatchObject({
      type: "response",
      data: { text: "it is noon", tool_calls: [{ id: "c1", name: "clock" }] },
    });
  });
});

describe("streaming replies", () => {
  it("sends the ack with Lyra-Host, keep-alives carrying the handler's status, the chunks, final, terminator", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.slow", JSON.stringify({ prompt: "time?", stream: true }));
    const types = msgs.map((m) => (isTerminator(m) ? "end" : (bodyOf(m) as { type: string; data: unknown })));
    expect(types[0]).toEqual({ type: "status", data: "ack" });
    expect(msgs[0]!.headers?.get(Header.Host)).toBe("h1");
    const keepAlives = types.filter((t) => typeof t === "object" && t.type === "status" && t.data === "loading");
    expect(keepAlives.length).toBeGreaterThanOrEqual(2);
    const tail = types.slice(-5).map((t) => (typeof t === "object" ? t.type : t));
    expect(tail).toEqual(["tool_call", "tool_result", "response", "final", "end"]);
    for (const m of msgs.slice(0, -1)) expect(m.headers?.get(Header.ContentType)).toBe("application/json");
  });

  it("a repeat of a completed request id replays its tool events in their order, then the text", async () => {
    const body = JSON.stringify({ prompt: "time?", stream: true });
    const kinds = (msgs: Awaited<ReturnType<typeof rawExchange>>) =>
      msgs
        .map((m) => (isTerminator(m) ? "end" : (bodyOf(m) as { type: string; data: unknown })))
        .filter((t) => t === "end" || t.type !== "status")
        .map((t) => (typeof t === "object" ? t.type : t));
    const first = await rawExchange(caller.nc, "lyra.slow", body, { [Header.RequestId]: "replay-tools-1" });
    const again = await rawExchange(caller.nc, "lyra.slow", body, { [Header.RequestId]: "replay-tools-1" });
    expect(kinds(first)).toEqual(["tool_call", "tool_result", "response", "final", "end"]);
    expect(kinds(again)).toEqual(kinds(first));
  });

  it("the Lyra-Stream header asks for streaming too", async () => {
    const msgs = await rawExchange(caller.nc, "lyra.voice", "hello", { [Header.Stream]: "1" });
    const chunks = msgs.slice(0, -1).map((m) => bodyOf(m) as { type: string; data: string });
    expect(chunks[0]).toEqual({ type: "status", data: "ack" });
    expect(
      chunks
        .filter((c) => c.type === "response")
        .map((c) => c.data)
        .join(""),
    ).toBe(ANSWER);
  });
});

describe("errors", () => {
  it.each([
    ["boom", "500", undefined],
    ["nobackend", "500", 503],
    ["forbidden", "403", undefined],
  ])("a handler failing with '%s' answers %s: the ack, the error message, then the terminator", async (prompt, code, lyraStatus) => {
    const msgs = await rawExchange(caller.nc, "lyra.fails", prompt);
    expect(msgs).toHaveLength(3);
    expect(kinds(msgs.slice(0, 1))).toEqual(["status:ack"]);
    expect(errorCodeOf(msgs[1]!)).toBe(code);
    expect(msgs[1]!.headers?.get(Header.Error)).toBeTruthy();
    expect(bodyOf(msgs[1]!)).toMatchObject({ error: expect.any(String) as string, message: expect.any(String) as string });
    expect((bodyOf(msgs[1]!) as { lyra_status?: number }).lyra_status).toBe(lyraStatus);
    expect(isTerminator(msgs[2]!)).toBe(true);
  });

  it("the client rebuilds typed errors and the responder keeps serving", async () => {
    const client = createRoleClient(caller);
    await expect(client.call("fails", "boom")).rejects.toBeInstanceOf(InternalError);
    const forbidden = await client.call("fails", "forbidden").catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(ForbiddenError);
    expect((forbidden as RoleCallError).status).toBe(403);
    // 503 travels as 500 with lyra_status (the spec has no 503); Lyra's client still knows it.
    const nobackend = await client.call("fails", "nobackend", { maxAttempts: 1 }).catch((e: unknown) => e);
    expect(nobackend).toBeInstanceOf(UnavailableError);
    expect((nobackend as RoleCallError).status).toBe(503);
    expect((await client.call("fails", "ok")).text).toBe("fine");
  });

  it("the client refuses an invalid request or role locally, before sending", async () => {
    const client = createRoleClient(caller);
    await expect(client.call("voice", { messages: [] })).rejects.toBeInstanceOf(InvalidBodyError);
    await expect(client.call("Not.A.Role", "hi")).rejects.toBeInstanceOf(MeshError);
    await expect(client.call("voice", "hi", { requestId: "a.b" })).rejects.toThrow(/not a valid subject token/);
  });
});

describe("request metadata", () => {
  it("the handler sees the caller's headers, conversation and request id", async () => {
    const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const r = await createRoleClient(caller).call("fails", "trace", {
      headers: { traceparent: tp },
      conversation: "conv-1",
      requestId: "rid-1",
    });
    expect(r.text).toBe(`${tp} conv-1 rid-1`);
  });
});
