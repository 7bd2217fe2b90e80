import { describe, expect, it } from "vitest";
import { createSegmenter, segmentText } from "../../../mesh/conductor/segment.ts";

const para = (n: number, words = 14) => `Paragraph ${n} ${"says something useful ".repeat(words / 3).trim()}.`;

describe("the pipelined voice's segmenter", () => {
  it("cuts at paragraph breaks; the segments concatenate to the text", () => {
    const text = `${para(1)}\n\n${para(2)}\n\n${para(3)}`;
    const segs = segmentText(text, { minChars: 20 });
    expect(segs).toHaveLength(3);
    expect(segs.join("")).toBe(text);
    expect(segs[0]).toBe(`${para(1)}\n\n`);
  });

  it("cuts after N sentences once the segment is long enough", () => {
    const s = "This sentence is about twenty-nine. ";
    // The first segment ends after one sentence, so the voice starts early; the others after N.
    expect(segmentText(s.repeat(5), { sentences: 2, minChars: 10 })).toEqual([s, s.repeat(2), s.repeat(2)]);
    // Below minChars, more sentences join the segment; the first segment needs half of minChars.
    expect(segmentText(s.repeat(6), { sentences: 2, minChars: 100 })).toEqual([s.repeat(2), s.repeat(3), s]);
    // sentences: 0 cuts at paragraphs only.
    expect(segmentText(s.repeat(6), { sentences: 0, minChars: 10 })).toHaveLength(1);
  });

  it("cuts only where a sentence ends, also when a short sentence came first", () => {
    // A short first sentence, then one longer than minChars: the cut waits for that sentence's end.
    const long = `Then ${"a long sentence goes on ".repeat(5)}in ancient times, and more.`;
    const text = `It is short. ${long} Next one.`;
    expect(segmentText(text, { sentences: 2, minChars: 80 })).toEqual([`It is short. ${long} `, "Next one."]);
    for (const seg of segmentText(`${text} ${text} ${text}`)) expect(seg.trimEnd()).toMatch(/[.!?]$/);
  });

  it("cuts the same however the text is chunked", () => {
    const text = `${para(1)} Dr. Smith agrees. Really? Yes!\n\n${para(2)}\n\n\`\`\`\ncode.\n\nmore code.\n\`\`\`\n\n${para(3)}`;
    const whole = segmentText(text, { sentences: 2, minChars: 30 });
    for (const size of [1, 2, 3, 7, 50]) {
      const s = createSegmenter({ sentences: 2, minChars: 30 });
      const out: string[] = [];
      for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)));
      const last = s.flush();
      if (last) out.push(last);
      expect(out, `chunks of ${size}`).toEqual(whole);
    }
    expect(whole.join("")).toBe(text);
  });

  it("does not cut after an abbreviation, an initial or a list number, nor inside a code fence", () => {
    const o = { sentences: 1, minChars: 1 };
    expect(segmentText("Ask Dr. Smith about it. Then go.", o)).toEqual(["Ask Dr. Smith about it. ", "Then go."]);
    expect(segmentText("Use e.g. salt and so on. Done.", o)).toEqual(["Use e.g. salt and so on. ", "Done."]);
    expect(segmentText("J. R. R. Tolkien wrote it. Read it.", o)).toEqual(["J. R. R. Tolkien wrote it. ", "Read it."]);
    expect(segmentText("Steps:\n1. Boil water.\n2. Add tea.", o)).toEqual(["Steps:\n1. Boil water.\n", "2. Add tea."]);
    expect(segmentText("```\na.\n\nb.\n```\n\nAfter.", o)).toEqual(["```\na.\n\nb.\n```\n\n", "After."]);
  });

  it("waits for the next segment's first character before cutting, so a segment keeps its trailing whitespace", () => {
    const s = createSegmenter({ sentences: 1, minChars: 1 });
    expect(s.push("One sentence.")).toEqual([]);
    expect(s.push("\n\n")).toEqual([]);
    expect(s.push("Two")).toEqual(["One sentence.\n\n"]);
    expect(s.flush()).toBe("Two");
    expect(s.flush()).toBeUndefined();
  });

  it("reset drops the text not yet cut", () => {
    const s = createSegmenter({ sentences: 1, minChars: 1 });
    s.push("Let me look that up");
    s.reset();
    expect(s.push("The answer is 4. ")).toEqual([]);
    expect(s.flush()).toBe("The answer is 4. ");
    expect(createSegmenter().flush()).toBeUndefined();
    s.push("  \n ");
    expect(s.flush()).toBeUndefined();
  });
});
