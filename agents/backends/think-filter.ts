/**
 * Separates `<think>...</think>` reasoning from the answer in streamed content. Models that think
 * put it there when the server does not split it into `message.thinking`; it is never the answer.
 * A tag may be cut across chunks, so a possible tag prefix at a chunk's end is held back.
 */
const OPEN = "<think>";
const CLOSE = "</think>";

/** Length of the longest suffix of `s` that is a proper prefix of `tag`. */
function partialTag(s: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, s.length); n > 0; n--) if (s.endsWith(tag.slice(0, n))) return n;
  return 0;
}

export function thinkFilter() {
  let inside = false;
  let held = "";
  return {
    /** The answer text and the thinking text in this chunk (either may be empty). */
    push(text: string): { answer: string; thinking: string } {
      let s = held + text;
      held = "";
      let answer = "";
      let thinking = "";
      for (;;) {
        const tag = inside ? CLOSE : OPEN;
        const at = s.indexOf(tag);
        if (at < 0) {
          const keep = partialTag(s, tag);
          held = s.slice(s.length - keep);
          const rest = s.slice(0, s.length - keep);
          if (inside) thinking += rest;
          else answer += rest;
          return { answer, thinking };
        }
        if (inside) thinking += s.slice(0, at);
        else answer += s.slice(0, at);
        s = s.slice(at + tag.length);
        inside = !inside;
      }
    },
    /** What was held back at the end of the stream (a tag prefix that never completed). */
    flush(): { answer: string; thinking: string } {
      const s = held;
      held = "";
      return inside ? { answer: "", thinking: s } : { answer: s, thinking: "" };
    },
  };
}
