/** What a model reads of an MCP `tools/call` answer: text blocks joined, other blocks summarised. */
import { Media } from "../../schemas/index.ts";
import { MetaKey, type JsonRpcResponse } from "../../tools/caller.ts";

/** Longest tool result given to a model, characters; the rest is cut with a note saying so. */
export const MAX_TOOL_RESULT_CHARS = 16_000;

/** The outcome of one tool call, as the loop streams, logs and hands it to the model. */
export const ToolStatus = {
  Ok: "ok",
  /** The tool answered with `isError` or a JSON-RPC error. */
  Error: "error",
  Timeout: "timeout",
  /** Not granted to the role: never sent. */
  Refused: "refused",
  /** The name is not a mesh tool (`server__tool`) the role was offered. */
  Unknown: "unknown",
  /** No tool server answered (no responders, stream lost). */
  Unavailable: "unavailable",
  Cancelled: "cancelled",
} as const;
export type ToolStatus = (typeof ToolStatus)[keyof typeof ToolStatus];

export interface ToolOutcome {
  status: ToolStatus;
  /** The text the model reads. */
  text: string;
  isError: boolean;
  /** Media the tool produced (`structuredContent.media`, each a valid Media item): the reply carries them. */
  media?: Media[];
  /** The tool host answered from its result cache (`lyra/cached` in the result's `_meta`). */
  cached?: boolean;
}

type Block = {
  type?: unknown;
  text?: unknown;
  mimeType?: unknown;
  data?: unknown;
  uri?: unknown;
  name?: unknown;
  resource?: Record<string, unknown>;
};

/** A field a server may have filled with anything, as short text. */
const str = (v: unknown, dflt = ""): string => (typeof v === "string" ? v : v === undefined || v === null ? dflt : JSON.stringify(v));

/** One content block as text. */
function blockText(b: Block): string {
  switch (b.type) {
    case "text":
      return typeof b.text === "string" ? b.text : "";
    case "image":
    case "audio":
      return (
        `[${b.type}: ${str(b.mimeType, "unknown type")}, ` +
        `${typeof b.data === "string" ? Math.floor((b.data.length * 3) / 4) : 0} bytes, not shown]`
      );
    case "resource_link":
      return `[resource link: ${str(b.uri)}${b.name ? ` (${str(b.name)})` : ""}]`;
    case "resource": {
      const r = b.resource ?? {};
      if (typeof r.text === "string") return r.text;
      return `[resource: ${str(r.uri)}${r.mimeType ? `, ${str(r.mimeType)}` : ""}, binary, not shown]`;
    }
    default:
      return `[${str(b.type, "unknown")} content, not shown]`;
  }
}

export function truncate(text: string, max = MAX_TOOL_RESULT_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters cut]`;
}

/** A `tools/call` response as the model reads it. */
export function callOutcome(res: JsonRpcResponse, what: string): ToolOutcome {
  if ("error" in res)
    return { status: ToolStatus.Error, isError: true, text: `tool ${what} failed: ${res.error.message} (code ${res.error.code})` };
  const r = res.result as { content?: unknown; structuredContent?: unknown; isError?: unknown; _meta?: Record<string, unknown> };
  const blocks = Array.isArray(r.content) ? (r.content as Block[]) : [];
  let text = blocks.map(blockText).filter(Boolean).join("\n");
  if (!text && r.structuredContent !== undefined) text = JSON.stringify(r.structuredContent);
  const isError = r.isError === true;
  const media = isError ? [] : mediaOf(r.structuredContent);
  return {
    status: isError ? ToolStatus.Error : ToolStatus.Ok,
    isError,
    text: truncate(text || (isError ? `tool ${what} failed without saying why` : "(no content)")),
    ...(media.length ? { media } : {}),
    ...(r._meta?.[MetaKey.Cached] === true ? { cached: true } : {}),
  };
}

/** The valid Media items of a result's `structuredContent.media` (the artist's, speech's); anything else is ignored. */
function mediaOf(structured: unknown): Media[] {
  const list = (structured as { media?: unknown } | undefined)?.media;
  if (!Array.isArray(list)) return [];
  return list
    .flatMap((m) => {
      const r = Media.safeParse(m);
      return r.success ? [r.data] : [];
    })
    .slice(0, 16);
}

/** An error result the loop makes itself (refused, unknown, unavailable, timeout). */
export function errorOutcome(status: ToolStatus, text: string): ToolOutcome {
  return { status, isError: true, text };
}
