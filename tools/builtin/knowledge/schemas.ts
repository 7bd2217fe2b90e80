/**
 * The tools' input schemas, built once at module level (the SDK builds a server per request, and
 * a zod schema costs more to build than a call). Strict objects: an unknown field is an error the
 * model reads, not something silently dropped. Limits keep a query within what the services take.
 */
import { z } from "zod";
import { ArxivSort } from "./arxiv.ts";

const words = (max: number, what: string) =>
  z
    .string()
    .max(max)
    .regex(/\S/, `${what} must contain words`)
    // Control characters are never part of a real query and some break the services' parsers.
    .regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/, `${what} must not contain control characters`);

export const WikipediaSearchInput = z.strictObject({
  query: words(300, "query").describe("What to look for, in a few words, e.g. 'Ada Lovelace analytical engine'"),
  limit: z.number().int().min(1).max(20).default(5).describe("How many articles to list (1-20, default 5)"),
});

export const WikipediaPageInput = z.strictObject({
  title: words(255, "title")
    .regex(/^[^|#<>[\]{}]*$/, "title must not contain | # < > [ ] { } (MediaWiki forbids them in titles)")
    .describe("The exact article title, as wikipedia_search lists it, e.g. 'Ada Lovelace'"),
  intro_only: z.boolean().default(true).describe("Only the lead section (default true); false for the whole article"),
  max_chars: z
    .number()
    .int()
    .min(200)
    .max(20_000)
    .default(4_000)
    .describe("Cut the text at this many characters (200-20000, default 4000)"),
});

export const ArxivSearchInput = z.strictObject({
  query: words(300, "query").describe(
    "Words to find in arXiv papers, e.g. 'sparse attention long context'; arXiv field syntax such as 'au:hinton AND cat:cs.LG' also works",
  ),
  max_results: z.number().int().min(1).max(20).default(5).describe("How many papers to list (1-20, default 5)"),
  sort: z.enum([ArxivSort.Relevance, ArxivSort.Newest]).default(ArxivSort.Relevance).describe("'relevance' (default) or 'newest' first"),
});

export const WolframQueryInput = z.strictObject({
  input: words(500, "input").describe(
    "A short math, science, unit or fact question, e.g. 'integrate x^2 sin x', 'distance Earth to Mars', '10 mph in km/h'",
  ),
  max_chars: z.number().int().min(100).max(10_000).default(3_000).describe("Longest answer to return (100-10000, default 3000)"),
});
