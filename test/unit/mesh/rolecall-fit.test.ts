import { headers } from "@nats-io/nats-core";
import { describe, expect, it } from "vitest";
import { headerBytes, splitResponseText, TextTooLargeError } from "../../../mesh/rolecall/fit.ts";
import { encode, Encoding } from "../../../schemas/index.ts";

describe("headerBytes", () => {
  it("counts a header block as nats.js encodes it", () => {
    const h = headers();
    h.set("Content-Type", "application/json");
    h.set("Nats-Service-Error", "ünïcode description");
    h.append("X-Two", "a");
    h.append("X-Two", "b");
    expect(headerBytes(h)).toBe((h as unknown as { encode(): Uint8Array }).encode().length);
    expect(headerBytes(undefined)).toBe(0);
  });
});

describe("splitResponseText", () => {
  const TEXT = Array.from({ length: 400 }, (_, i) => `w${i} "q" \u0001 é中😀\n`).join("");

  for (const enc of [Encoding.Json, Encoding.Msgpack]) {
    it(`${enc}: every piece's chunk fits, the pieces make the text, no surrogate pair is cut`, () => {
      const budget = 1000;
      const pieces = splitResponseText(TEXT, enc, budget);
      expect(pieces.join("")).toBe(TEXT);
      const sizes = pieces.map((p) => encode({ type: "response", data: p }, enc).length);
      for (const n of sizes) expect(n).toBeLessThanOrEqual(budget);
      for (const p of pieces) expect(p).toBe(p.toWellFormed());
      // How full the pieces are (all but the last): a figure, not a bound.
      const full = sizes.slice(0, -1);
      console.log(
        `${enc}: ${TEXT.length} chars in ${pieces.length} pieces, ` +
          `${Math.round((full.reduce((a, b) => a + b, 0) / full.length / budget) * 100)}% full on average`,
      );
    });
  }

  it("text that fits is one piece; empty text is none", () => {
    expect(splitResponseText("hello", Encoding.Json, 100)).toEqual(["hello"]);
    expect(splitResponseText("", Encoding.Json, 100)).toEqual([]);
  });

  it("a budget below a chunk's own framing cannot be met: a typed error, no endless loop", () => {
    expect(() => splitResponseText("hello", Encoding.Json, 10)).toThrow(TextTooLargeError);
    expect(() => splitResponseText("😀😀", Encoding.Json, 30)).toThrow(TextTooLargeError);
  });
});
