import { describe, expect, it } from "vitest";
import {
  Chunk,
  ErrorBody,
  FinalInfo,
  KnownChunkTypes,
  RoleName,
  RESUME_MAX_CHARS,
  RoleRequest,
  requestMessages,
  responseText,
} from "../../../schemas/index.ts";

const ok = (v: unknown) => RoleRequest.safeParse(v).success;

describe("RoleRequest", () => {
  it("accepts a prompt, messages, or both", () => {
    expect(ok({ prompt: "hi" })).toBe(true);
    expect(ok({ messages: [{ role: "user", content: "hi" }] })).toBe(true);
    expect(ok({ prompt: "hi", messages: [{ role: "system", content: "be brief" }] })).toBe(true);
  });

  it("keeps unknown fields (Agent Protocol clients may send more)", () => {
    expect(RoleRequest.parse({ prompt: "hi", attachments: [], x_custom: 1 })).toMatchObject({ x_custom: 1, attachments: [] });
  });

  it.each([
    ["nothing to answer", {}],
    ["empty prompt", { prompt: "" }],
    ["empty messages", { messages: [] }],
    ["unknown message role", { messages: [{ role: "robot", content: "x" }] }],
    ["message content not a string", { messages: [{ role: "user", content: 1 }] }],
    ["negative deadline", { prompt: "x", deadline: -1 }],
    ["fractional deadline", { prompt: "x", deadline: 1.5 }],
    ["id too long", { prompt: "x", id: "a".repeat(129) }],
    ["too many tools", { prompt: "x", tools: Array.from({ length: 129 }, (_, i) => ({ name: `t${i}` })) }],
    ["tool call without arguments", { messages: [{ role: "assistant", content: "", tool_calls: [{ id: "1", name: "f" }] }] }],
    ["top_p over 1", { prompt: "x", options: { top_p: 1.5 } }],
    ["stream not a boolean", { prompt: "x", stream: 1 }],
    ["not an object", "hello"],
    ["null", null],
  ])("rejects %s", (_name, v) => {
    expect(ok(v)).toBe(false);
  });

  it("fills tool defaults and lists the messages a request stands for", () => {
    const r = RoleRequest.parse({ prompt: "now", messages: [{ role: "system", content: "s" }], tools: [{ name: "clock" }] });
    expect(r.tools![0]).toEqual({ name: "clock", description: "", parameters: { type: "object", properties: {} } });
    expect(requestMessages(r)).toEqual([
      { role: "system", content: "s" },
      { role: "user", content: "now" },
    ]);
  });
});

describe("Chunk", () => {
  const final = { model: "m", backend: "b", host: "h", usage: {}, timings: { total_ms: 3 } };

  it.each([
    [{ type: "status", data: "ack" }],
    [{ type: "response", data: "delta" }],
    [{ type: "response", data: { text: "whole", model: "m" } }],
    [{ type: "tool_call", data: { id: "1", name: "clock", arguments: {} } }],
    [{ type: "tool_result", data: { id: "1", name: "clock", content: "noon" } }],
    [{ type: "final", data: final }],
  ])("accepts %j", (c) => {
    expect(Chunk.safeParse(c).success).toBe(true);
  });

  it.each([
    [{ type: "status", data: 1 }],
    [{ type: "response", data: { txt: "x" } }],
    [{ type: "tool_call", data: { id: "", name: "clock", arguments: {} } }],
    [{ type: "final", data: { model: "m" } }],
    [{ type: "mystery", data: "x" }],
    [{ data: "x" }],
  ])("rejects %j", (c) => {
    expect(Chunk.safeParse(c).success).toBe(false);
  });

  it("final info fills usage defaults; responseText reads both forms", () => {
    expect(FinalInfo.parse(final).usage).toEqual({ prompt_tokens: 0, completion_tokens: 0 });
    expect(responseText({ type: "response", data: "a" })).toBe("a");
    expect(responseText({ type: "response", data: { text: "b" } })).toBe("b");
    expect(KnownChunkTypes.has("final")).toBe(true);
    expect(KnownChunkTypes.has("mystery")).toBe(false);
  });

  it("error bodies need an error name; retry_after_s is non-negative", () => {
    expect(ErrorBody.safeParse({ error: "busy", retry_after_s: 2 }).success).toBe(true);
    expect(ErrorBody.safeParse({ message: "x" }).success).toBe(false);
    expect(ErrorBody.safeParse({ error: "busy", retry_after_s: -1 }).success).toBe(false);
  });
});

describe("RoleName", () => {
  it("follows the subject token rule and refuses reserved names", () => {
    expect(RoleName.safeParse("voice").success).toBe(true);
    expect(RoleName.safeParse("vision-2").success).toBe(true);
    for (const bad of ["Voice", "a.b", "*", ">", "-x", "", "inbox", "outbox", "log", "cancel", "state", "a b"]) {
      expect(RoleName.safeParse(bad).success, bad).toBe(false);
    }
  });
});

describe("resume: the partial answer a re-issue carries", () => {
  const base = { prompt: "hi" };
  it("takes text up to RESUME_MAX_CHARS", () => {
    expect(RoleRequest.parse({ ...base, resume: { text: "The sea is" } }).resume).toEqual({ text: "The sea is" });
    expect(RoleRequest.safeParse({ ...base, resume: { text: "x".repeat(RESUME_MAX_CHARS) } }).success).toBe(true);
  });
  it("refuses anything else: too long, empty, not text", () => {
    for (const resume of [{ text: "x".repeat(RESUME_MAX_CHARS + 1) }, { text: "" }, { text: 42 }, "The sea", { text: ["a"] }]) {
      expect(RoleRequest.safeParse({ ...base, resume }).success, JSON.stringify(resume).slice(0, 40)).toBe(false);
    }
  });
  it("is not a message: requestMessages leaves it out", () => {
    expect(requestMessages(RoleRequest.parse({ ...base, resume: { text: "The sea is" } }))).toEqual([{ role: "user", content: "hi" }]);
  });
});
