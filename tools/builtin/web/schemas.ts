/** The web tools' input schemas, built once (a zod schema costs more to build than a call). */
import { z } from "zod";
import { BrowseAction } from "./browse.ts";

export const MAX_QUERY = 400;
export const MAX_URL = 2048;
export const MAX_STEPS = 20;

export const WebSearchInput = z.strictObject({
  query: z
    .string()
    .trim()
    .min(1)
    .max(MAX_QUERY)
    .describe("What to search the web for, in a few words, e.g. 'NATS JetStream key value store'"),
  page: z.int().min(1).max(10).optional().describe("Result page, 1 (default) to 10"),
});

export const FetchPageInput = z.strictObject({
  url: z.string().min(1).max(MAX_URL).describe("The http:// or https:// address of the page, e.g. a URL from web_search"),
});

const Step = z.strictObject({
  action: z
    .enum(Object.values(BrowseAction) as [BrowseAction, ...BrowseAction[]])
    .describe(
      "navigate (needs url), click (needs selector), type (needs selector and text), " +
        "extract (text of selector, default the whole page), screenshot",
    ),
  url: z.string().max(MAX_URL).optional().describe("For navigate: the http(s) address to open"),
  selector: z.string().max(500).optional().describe("CSS selector of the element, e.g. '#search', 'button[type=submit]', 'article'"),
  text: z.string().max(10_000).optional().describe("For type: the text to put in the field"),
  full_page: z.boolean().optional().describe("For screenshot: the whole page, not only the visible part"),
});

export const BrowseInput = z.strictObject({
  url: z.string().min(1).max(MAX_URL).describe("The http:// or https:// address to open first"),
  steps: z.array(Step).max(MAX_STEPS).optional().describe("What to do on the page, in order; default: extract the page's text"),
});
