import { describe, expect, it } from "vitest";
import { headers } from "@nats-io/nats-core";
import { checkAttachments, parseInbound, replyEncodingOf } from "../../../mesh/rolecall/inbound.ts";
import { encode, Header, InvalidBodyError } from "../../../schemas/index.ts";

const te = new TextEncoder();
function msg(body: string | Uint8Array, h: Record<string, string> = {}) {
  const hdrs = headers();
  for (const [k, v] of Object.entries(h)) hdrs.set(k, v);
  return { data: typeof body === "string" ? te.encode(body) : body, headers: Object.keys(h).length ? hdrs : undefined };
}

describe("parseInbound", () => {
  const NOW = 1_000_000;

  it("a plain-text body is a prompt, answered in JSON, with the default deadline and a fresh id", () => {
    const a = parseInbound(msg("hello"), 120_000, NOW);
    expect(a.req).toEqual({ prompt: "hello" });
    expect(a.encoding).toBe("json");
    expect(a.deadline).toBe(NOW + 120_000);
    expect(a.stream).toBe(false);
    expect(a.id).toMatch(/^[A-Za-z0-9]{22}$/);
    expect(parseInbound(msg("hello"), 1000, NOW).id).not.toBe(a.id);
  });

  it("§5.3 discrimination: after tab, LF, CR or space a '{' is JSON; anything else is a prompt", () => {
    expect(parseInbound(msg(' \t\r\n{"prompt":"j"}'), 1000, NOW).req).toEqual({ prompt: "j" });
    expect(parseInbound(msg('\u00a0{"prompt":"j"}'), 1000, NOW).req).toEqual({ prompt: '\u00a0{"prompt":"j"}' });
    expect(parseInbound(msg("[1, 2]"), 1000, NOW).req).toEqual({ prompt: "[1, 2]" });
    expect(() => parseInbound(msg(" {nope"), 1000, NOW)).toThrow(InvalidBodyError);
    expect(() => parseInbound(msg(new Uint8Array(0)), 1000, NOW)).toThrow(InvalidBodyError);
  });

  it("checkAttachments: any attachment is refused where attachments_ok is false; where true, only images and text", () => {
    const txt = { filename: "a.txt", content: Buffer.from("hi").toString("base64") };
    const bin = { filename: "a.bin", content: Buffer.from([0, 255, 0]).toString("base64") };
    expect(() => checkAttachments({ prompt: "x", attachments: [txt] }, false, "voice")).toThrow(/attachments_ok: false/);
    expect(() => checkAttachments({ prompt: "x", attachments: [] }, false, "voice")).not.toThrow();
    expect(() => checkAttachments({ prompt: "x", attachments: [txt] }, true, "eye")).not.toThrow();
    expect(() => checkAttachments({ prompt: "x", attachments: [bin] }, true, "eye")).toThrow(/neither an image/);
  });

  it("headers win over body fields", () => {
    const body = JSON.stringify({ prompt: "x", id: "body-id", deadline: NOW + 5, conversation: "c-body" });
    const a = parseInbound(
      msg(body, { [Header.RequestId]: "hdr-id", [Header.Deadline]: String(NOW + 9), [Header.Conversation]: "c-hdr" }),
      1000,
      NOW,
    );
    expect(a).toMatchObject({ id: "hdr-id", deadline: NOW + 9, conversation: "c-hdr" });
    const b = parseInbound(msg(body), 1000, NOW);
    expect(b).toMatchObject({ id: "body-id", deadline: NOW + 5, conversation: "c-body" });
  });

  it("streams when the header says '1' or the body says true", () => {
    expect(parseInbound(msg("hi", { [Header.Stream]: "1" }), 1000, NOW).stream).toBe(true);
    expect(parseInbound(msg("hi", { [Header.Stream]: "0" }), 1000, NOW).stream).toBe(false);
    expect(parseInbound(msg(JSON.stringify({ prompt: "x", stream: true })), 1000, NOW).stream).toBe(true);
  });

  it("msgpack requests are answered in msgpack", () => {
    const m = msg(encode({ prompt: "x" }, "msgpack"), { [Header.ContentType]: "application/msgpack" });
    expect(parseInbound(m, 1000, NOW).encoding).toBe("msgpack");
    expect(replyEncodingOf(m)).toBe("msgpack");
    expect(replyEncodingOf(msg("x"))).toBe("json");
  });

  it.each([
    ["a request id that is not a subject token", msg("hi", { [Header.RequestId]: "a.b" })],
    ["a deadline header that is not epoch ms", msg("hi", { [Header.Deadline]: "12.5" })],
    ["a negative deadline header", msg("hi", { [Header.Deadline]: "-3" })],
    ["an invalid body", msg("{")],
  ])("refuses %s with InvalidBodyError", (_name, m) => {
    expect(() => parseInbound(m, 1000, NOW)).toThrow(InvalidBodyError);
  });
});
