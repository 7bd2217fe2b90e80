/** Readable text from a fetched page: Mozilla's Readability over linkedom (a light pure-JS DOM). */
import { WebError, WebErrorCode } from "./errors.ts";
import type { GetResult } from "./http.ts";

export interface Readable {
  title: string;
  text: string;
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|ld\+json|javascript)|[^;]*\+xml)/i;

// Loaded on first use: linkedom takes about a second to import, and every `lyra` command loads the built-ins.
let dom: Promise<[typeof import("@mozilla/readability"), typeof import("linkedom")]> | undefined;
const loadDom = () => (dom ??= Promise.all([import("@mozilla/readability"), import("linkedom")]));

export async function readableText(page: GetResult): Promise<Readable> {
  const type = page.contentType.split(";")[0]!.trim().toLowerCase();
  const charset = /charset=([\w-]+)/i.exec(page.contentType)?.[1];
  const raw = decode(page.body, charset);
  if (type === "text/html" || type === "application/xhtml+xml" || (type === "" && /^\s*</.test(raw)))
    return fromHtml(raw, ...(await loadDom()));
  if (TEXT_TYPES.test(type)) return { title: "", text: raw.trim() };
  throw new WebError(
    WebErrorCode.BadInput,
    `'${page.url}' is '${type}', not a text or HTML page; fetch_page reads only text (use browse to see other pages)`,
  );
}

/** The part of linkedom's document used here (its types lean on the DOM lib, which this project leaves out). */
interface LightDocument {
  title?: string;
  body?: { textContent: string | null } | null;
  querySelectorAll(sel: string): Iterable<{ remove(): void }>;
}

function fromHtml(
  html: string,
  { Readability }: typeof import("@mozilla/readability"),
  { parseHTML }: typeof import("linkedom"),
): Readable {
  const document = (parseHTML(html) as unknown as { document: LightDocument }).document;
  // Readability takes a DOM Document; linkedom's is close enough for it (its own test suite runs on a light DOM).
  const article = new Readability(document).parse();
  if (article?.textContent?.trim()) return { title: article.title ?? "", text: tidy(article.textContent) };
  // Not an article (a listing, a form): the body's text without scripts and styles.
  for (const el of document.querySelectorAll("script,style,noscript,template")) el.remove();
  return { title: document.title ?? "", text: tidy(document.body?.textContent ?? "") };
}

function decode(body: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? "utf-8").decode(body);
  } catch {
    return new TextDecoder("utf-8").decode(body);
  }
}

/** Collapses runs of spaces and blank lines: the model pays for every token. */
export function tidy(text: string): string {
  return text
    .replace(/[ \t\u00a0]+/g, " ")
    .replace(/ *\n[ \t]*/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
