/**
 * Cuts the specialist's streamed draft into segments for the pipelined voice: a segment ends at a
 * paragraph break, or after `sentences` sentences, once it holds at least `minChars` characters.
 * The first segment ends after one sentence already, and needs only half of `minChars`, so the
 * voice starts as early as it can. A cut is made only where a sentence or a paragraph ends.
 * A cut is made only when the next segment's first character has arrived, so a segment carries
 * its trailing whitespace and the segments concatenate to the draft. Where it cuts depends on the
 * text alone, not on how it was chunked, so a re-run cuts the same segments. No cut inside a code
 * fence, after an abbreviation ("Dr.", "e.g."), an initial ("J.") or a list number ("1.").
 */

export interface SegmentOptions {
  /** Sentences that close a segment (a paragraph break closes one sooner); 0: paragraphs only. Default 2. */
  sentences?: number;
  /** The least characters of a segment (trimmed); default 80. */
  minChars?: number;
}

export const DEFAULT_SEGMENT_SENTENCES = 2;
export const DEFAULT_SEGMENT_MIN_CHARS = 80;

export interface Segmenter {
  /** Adds streamed text; returns the segments it completed, in order. */
  push(text: string): string[];
  /** The rest of the text as the last segment; undefined when only whitespace is left. */
  flush(): string | undefined;
  /** Drops the text not yet cut (a tool step came: what the model said before it is not voiced). */
  reset(): void;
}

const ABBREVIATIONS = new Set([
  "dr.",
  "mr.",
  "mrs.",
  "ms.",
  "prof.",
  "st.",
  "sr.",
  "jr.",
  "vs.",
  "etc.",
  "e.g.",
  "i.e.",
  "cf.",
  "no.",
  "fig.",
  "approx.",
  "inc.",
  "ltd.",
]);

/** Whether the text before a whitespace run ends a sentence. */
function endsSentence(before: string): boolean {
  const word = /(\S+)$/.exec(before)?.[1] ?? "";
  const bare = word.replace(/["'”’)\]*_]+$/, "");
  if (!/[.!?…]$/.test(bare)) return false;
  if (/^\(?\d+[.)]$/.test(bare) || /^[A-Z]\.$/.test(bare)) return false; // "1." "2)" "J."
  return !ABBREVIATIONS.has(bare.replace(/^["'“‘(]+/, "").toLowerCase());
}

export function createSegmenter(o: SegmentOptions = {}): Segmenter {
  const sentences = o.sentences ?? DEFAULT_SEGMENT_SENTENCES;
  const minChars = o.minChars ?? DEFAULT_SEGMENT_MIN_CHARS;
  let buf = "";
  let pos = 0; // where the scan goes on: the end of the last whitespace run that was followed by text
  let count = 0; // sentences ended in buf so far
  let fences = 0; // ``` seen in buf[0, pos)
  let cuts = 0; // segments cut so far

  const scan = (): string[] => {
    const out: string[] = [];
    const run = /\s+(?=\S)/g;
    run.lastIndex = pos;
    for (let m = run.exec(buf); m; m = run.exec(buf)) {
      const end = m.index + m[0].length;
      fences += buf.slice(pos, m.index).split("```").length - 1;
      pos = end;
      if (fences % 2 === 1) continue;
      const paragraph = /\n[ \t]*\n/.test(m[0]);
      const sentence = endsSentence(buf.slice(0, m.index));
      if (sentence) count++;
      const long = buf.slice(0, m.index).trim().length >= (cuts === 0 ? minChars / 2 : minChars);
      // Only where a sentence ends: after a short first sentence, the long one after it is not cut in its middle.
      const enough = sentence && sentences > 0 && count >= (cuts === 0 ? 1 : sentences);
      if (!long || !(paragraph || enough)) continue;
      cuts++;
      out.push(buf.slice(0, end));
      buf = buf.slice(end);
      pos = 0;
      count = 0;
      fences = 0;
      run.lastIndex = 0;
    }
    return out;
  };

  return {
    push(text) {
      buf += text;
      return scan();
    },
    flush() {
      const rest = buf;
      buf = "";
      pos = count = fences = 0;
      return rest.trim() ? rest : undefined;
    },
    reset() {
      buf = "";
      pos = count = fences = 0;
    },
  };
}

/** The segments of a whole text, as streaming it would cut them. */
export function segmentText(text: string, o?: SegmentOptions): string[] {
  const s = createSegmenter(o);
  const out = s.push(text);
  const last = s.flush();
  return last === undefined ? out : [...out, last];
}
