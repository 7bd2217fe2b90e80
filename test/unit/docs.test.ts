/**
 * The docs stay navigable: README.md stays a short entry point, and every relative link in the
 * README, ARCHITECTURE.md and docs/*.md reaches a file that exists (and a heading that exists,
 * for a link with an anchor into a markdown file).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "../..");
const DOCS = [
  "README.md",
  "ARCHITECTURE.md",
  "test/bench/README.md",
  ...readdirSync(join(ROOT, "docs")).flatMap((f) => (f.endsWith(".md") ? [`docs/${f}`] : [])),
];

/** The text outside fenced code blocks and inline code, where a `[x](y)` is a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

describe("the docs", () => {
  it("README.md is at most 300 lines", () => {
    const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length - 1;
    expect(lines).toBeLessThanOrEqual(300);
  });

  it.each(DOCS)("every relative link in %s points at a file that exists, and at a heading that exists", (doc) => {
    const broken: string[] = [];
    for (const link of links(readFileSync(join(ROOT, doc), "utf8"))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:, file:
      const [path, anchor] = link.split("#") as [string, string | undefined];
      const target = path === "" ? join(ROOT, doc) : join(ROOT, dirname(doc), decodeURI(path));
      if (!existsSync(target)) {
        broken.push(`${link} (no file ${relative(ROOT, target)})`);
        continue;
      }
      if (anchor && target.endsWith(".md") && !anchors(readFileSync(target, "utf8")).has(decodeURIComponent(anchor))) {
        broken.push(`${link} (no heading #${anchor} in ${relative(ROOT, target)})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
