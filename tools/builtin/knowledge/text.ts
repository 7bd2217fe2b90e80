/** Small text helpers shared by the clients: entity decoding, tag stripping, trimming for a model. */

const NAMED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** Decodes the XML entities and numeric references (HTML snippets and Atom use only these). */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (m, e: string) => {
    if (e[0] === "#") {
      const n = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : m;
    }
    return NAMED[e] ?? m;
  });
}

/** MediaWiki search snippets are HTML (`<span class="searchmatch">`): plain text for a model. */
export function stripTags(html: string): string {
  return collapse(decodeEntities(html.replace(/<[^>]*>/g, "")));
}

export function collapse(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** Cuts at a word boundary and says so, so the model knows there is more. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const at = cut.lastIndexOf(" ");
  return `${at > max * 0.8 ? cut.slice(0, at) : cut}… [truncated at ${max} characters]`;
}
