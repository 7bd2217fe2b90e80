import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import {
  assertFits,
  contentTypeOf,
  decode,
  encode,
  encodingOf,
  InvalidBodyError,
  PayloadTooLargeError,
  RoleRequest,
  validate,
} from "../../../schemas/index.ts";

const te = new TextEncoder();

describe("decode: choosing the encoding", () => {
  it("msgpack when the Content-Type says so (and its aliases)", () => {
    const body = new Packr({ useRecords: false }).pack({ prompt: "hi" });
    for (const ct of ["application/msgpack", "application/x-msgpack", "application/vnd.msgpack", "Application/MsgPack; charset=binary"]) {
      expect(decode(body, ct)).toEqual({ encoding: "msgpack", value: { prompt: "hi" } });
    }
  });

  it("JSON when the Content-Type says so, even without a leading brace", () => {
    expect(decode(te.encode("[1,2]"), "application/json")).toEqual({ encoding: "json", value: [1, 2] });
  });

  it("without a Content-Type, a body starting with '{' (after blanks) is JSON", () => {
    expect(decode(te.encode('  \n{"prompt":"x"}'))).toEqual({ encoding: "json", value: { prompt: "x" } });
  });

  it("without a Content-Type, anything else is a plain-text prompt", () => {
    expect(decode(te.encode("hello {world}"))).toEqual({ encoding: "text", value: "hello {world}" });
    expect(decode(te.encode("[1,2]"))).toEqual({ encoding: "text", value: "[1,2]" });
  });

  it("text/* Content-Types are plain text, even with a leading brace", () => {
    expect(decode(te.encode("{not json}"), "text/plain; charset=utf-8")).toEqual({ encoding: "text", value: "{not json}" });
  });

  it("encodingOf maps content types; contentTypeOf maps back", () => {
    expect(encodingOf(undefined)).toBeUndefined();
    expect(encodingOf("application/json")).toBe("json");
    expect(encodingOf("text/markdown")).toBe("text");
    expect(encodingOf("image/png")).toBeUndefined();
    expect(contentTypeOf("msgpack")).toBe("application/msgpack");
    expect(contentTypeOf("json")).toBe("application/json");
  });
});

describe("decode: refusing bad bodies", () => {
  it.each([
    ["empty body", new Uint8Array(0), undefined],
    ["empty body with a Content-Type", new Uint8Array(0), "application/json"],
    ["invalid JSON", te.encode("{nope"), undefined],
    ["invalid JSON declared", te.encode("nope"), "application/json"],
    ["invalid UTF-8 text", new Uint8Array([0xff, 0xfe, 0x41]), undefined],
    ["invalid UTF-8 declared as text", new Uint8Array([0x68, 0xc3, 0x28]), "text/plain"],
    ["invalid UTF-8 declared as JSON", new Uint8Array([0x7b, 0xff, 0x7d]), "application/json"],
    ["truncated msgpack", new Packr().pack({ prompt: "hello there" }).subarray(0, 5), "application/msgpack"],
    ["unsupported Content-Type", te.encode("<a/>"), "application/xml"],
  ])("%s → InvalidBodyError", (_name, data, ct) => {
    expect(() => decode(data, ct)).toThrow(InvalidBodyError);
  });

  it("msgpack that decodes to something other than a request fails validation instead", () => {
    // msgpackr reads the reserved byte 0xc1 as a value; the schema is what refuses it.
    const { value } = decode(new Uint8Array([0xc1]), "application/msgpack");
    expect(() => validate(RoleRequest, value, "role request")).toThrow(InvalidBodyError);
  });

  it("an unsupported Content-Type names the supported ones", () => {
    expect(() => decode(te.encode("x"), "application/xml")).toThrow(/application\/msgpack/);
  });
});

describe("encode", () => {
  it("round-trips through both encodings as plain maps", () => {
    const v = { type: "response", data: { text: "é ✓", n: 1.5, list: [1, null, true] } };
    for (const enc of ["msgpack", "json"] as const) {
      expect(decode(encode(v, enc), contentTypeOf(enc)).value).toEqual(v);
    }
  });

  it("msgpack bodies are readable by a plain msgpack decoder (no records extension)", () => {
    const body = encode({ a: 1 }, "msgpack");
    expect(new Packr({ useRecords: false }).unpack(body)).toEqual({ a: 1 });
    expect(body[0]! & 0xf0).toBe(0x80); // fixmap
  });
});

describe("validate and assertFits", () => {
  it("validate returns the parsed value or throws InvalidBodyError with the paths", () => {
    expect(validate(RoleRequest, { prompt: "x" }, "role request")).toEqual({ prompt: "x" });
    try {
      validate(RoleRequest, { prompt: 1, options: { temperature: 9 } }, "role request");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidBodyError);
      expect((err as InvalidBodyError).message).toMatch(/^invalid role request: /);
      expect((err as InvalidBodyError).detail.join("\n")).toContain("options.temperature");
    }
  });

  it("assertFits refuses a payload over the limit, and 0 means no limit", () => {
    expect(() => assertFits(new Uint8Array(10), 10)).not.toThrow();
    expect(() => assertFits(new Uint8Array(11), 10, "request")).toThrow(PayloadTooLargeError);
    expect(() => assertFits(new Uint8Array(11), 0)).not.toThrow();
    try {
      assertFits(new Uint8Array(5000), 4096);
    } catch (err) {
      expect(err).toMatchObject({ code: "payload_too_large", size: 5000, limit: 4096 });
    }
  });
});
