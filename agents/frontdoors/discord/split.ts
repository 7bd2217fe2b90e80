/**
 * Splitting a reply into Discord messages (2,000 characters at most): on paragraph or code-fence
 * boundaries, never inside a code block. A code block longer than the limit is closed and reopened
 * with the same fence line (so its language stays), one piece per message.
 */

/** Discord's limit on a message's content, characters. */
export const DISCORD_MESSAGE_LIMIT = 2000;

interface Block {
  text: string;
  /** What joins it to the block before it in the same message. */
  sep: string;
}

const FENCE = /^\s*(```+|~~~+)/;

/** The reply as messages of at most `limit` characters, each with balanced code fences. */
export function splitMessage(text: string, limit = DISCORD_MESSAGE_LIMIT): string[] {
  if (text.length <= limit) return text.length ? [text] : [];
  const chunks: string[] = [];
  let cur = "";
  for (const b of blocks(text).flatMap((b) => fit(b, limit))) {
    if (!cur) cur = b.text;
    else if (cur.length + b.sep.length + b.text.length <= limit) cur += b.sep + b.text;
    else {
      chunks.push(cur);
      cur = b.text;
    }
  }
  if (cur) chunks.push(cur);
  return chunks;
}

type Parsed = Block & { fence?: string; lines: string[] };

/** Paragraphs (text between blank lines) and whole code blocks, each with the separator before it. */
function blocks(text: string): Parsed[] {
  const out: Parsed[] = [];
  let para: string[] = [];
  let code: { open: string; marker: string; lines: string[] } | undefined;
  // The separator of the next block: "\n" when it follows on the next line, "\n\n" after a blank line.
  let sep = "";
  const emit = (b: Omit<Parsed, "sep">) => {
    out.push({ ...b, sep });
    sep = "\n";
  };
  const endPara = () => {
    if (para.length) emit({ text: para.join("\n"), lines: para });
    para = [];
  };
  for (const line of text.split("\n")) {
    if (code) {
      const t = line.trim();
      if (t.startsWith(code.marker) && t.replace(/[`~]/g, "") === "") {
        emit({ text: [code.open, ...code.lines, line].join("\n"), fence: code.open, lines: code.lines });
        code = undefined;
      } else code.lines.push(line);
      continue;
    }
    const f = FENCE.exec(line);
    if (f) {
      endPara();
      code = { open: line, marker: f[1]!, lines: [] };
    } else if (line.trim() === "") {
      endPara();
      if (out.length) sep = "\n\n";
    } else para.push(line);
  }
  endPara();
  // An unclosed fence is closed, so what follows in other messages is not swallowed.
  if (code) emit({ text: [code.open, ...code.lines, code.marker].join("\n"), fence: code.open, lines: code.lines });
  return out;
}

/** A block cut into pieces of at most `limit`: code by lines (fence closed and reopened), prose by lines, then words. */
function fit(b: Parsed, limit: number): Block[] {
  if (b.text.length <= limit) return [b];
  if (b.fence !== undefined) {
    const marker = FENCE.exec(b.fence)![1]!;
    const room = limit - b.fence.length - marker.length - 2;
    const pieces: Block[] = [];
    let lines: string[] = [];
    let len = 0;
    const push = () => {
      if (!lines.length) return;
      pieces.push({ text: [b.fence, ...lines, marker].join("\n"), sep: pieces.length ? "\n" : b.sep });
      lines = [];
      len = 0;
    };
    for (const line of b.lines.flatMap((l) => hardCut(l, room))) {
      if (len + line.length + 1 > room) push();
      lines.push(line);
      len += line.length + 1;
    }
    push();
    return pieces;
  }
  const pieces: Block[] = [];
  let cur = "";
  for (const part of b.lines.flatMap((l) => words(l, limit))) {
    if (!cur) cur = part;
    else if (cur.length + 1 + part.length <= limit) cur += "\n" + part;
    else {
      pieces.push({ text: cur, sep: pieces.length ? "\n" : b.sep });
      cur = part;
    }
  }
  if (cur) pieces.push({ text: cur, sep: pieces.length ? "\n" : b.sep });
  return pieces;
}

/** A line cut at spaces into parts of at most `limit` (hard cut when a word is longer). */
function words(line: string, limit: number): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > limit) {
    const cut = rest.lastIndexOf(" ", limit);
    const at = cut > limit / 2 ? cut : limit;
    out.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^ /, "");
  }
  out.push(rest);
  return out;
}

function hardCut(line: string, limit: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < line.length; i += limit) out.push(line.slice(i, i + limit));
  return out.length ? out : [""];
}
