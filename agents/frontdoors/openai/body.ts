/** The request body: its media type, its size cap, a client that leaves while sending it, its JSON. */
import type { IncomingMessage } from "node:http";
import { badRequest, clientClosed, ErrorType, OpenAIError } from "./errors.ts";

/**
 * The media type of a Content-Type header, lower-case, without its parameters. Only
 * `application/json` itself is JSON: `application/json-seq` (RFC 7464, records separated by RS)
 * or `application/jsonp` are other formats, whatever their name starts with.
 */
export const mediaType = (header: string): string => header.split(";", 1)[0]!.trim().toLowerCase();

/** Throws a 415 unless the request says its body is JSON (no Content-Type at all is taken as JSON). */
export function requireJson(contentType: string | undefined): void {
  if (contentType === undefined || mediaType(contentType) === "application/json") return;
  throw new OpenAIError(
    415,
    ErrorType.InvalidRequest,
    `Content-Type must be application/json (got '${contentType.slice(0, 64)}'); ` +
      `send the body as JSON with 'Content-Type: application/json'`,
    { code: "invalid_content_type" },
  );
}

/** The body as text, read from Node's request (cheaper than the web stream), refused past `max` bytes. */
export async function readBody(incoming: IncomingMessage, max: number): Promise<string> {
  const tooLarge = () =>
    new OpenAIError(413, ErrorType.InvalidRequest, `the request body is over ${max} bytes (serve.max_body)`, { code: "request_too_large" });
  if (Number(incoming.headers["content-length"] ?? 0) > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const d of incoming as AsyncIterable<Buffer>) {
      size += d.length;
      if (size > max) throw tooLarge();
      chunks.push(d);
    }
  } catch (err) {
    if (err instanceof OpenAIError) throw err;
    // The connection went (the client left, or the body timeout cut it off): no one to answer.
    throw clientClosed("the request was read", err);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The body parsed as JSON, or a 400 that says why it is not. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the request body is not valid JSON (${(err as Error).message})`, undefined, "invalid_json");
  }
}
