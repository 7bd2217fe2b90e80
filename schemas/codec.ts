import { Packr } from "msgpackr";
import type { z } from "zod";
import { ContentType, Encoding } from "./wire.ts";
import { InvalidBodyError, PayloadTooLargeError } from "./errors.ts";

// Plain msgpack maps (no msgpackr records) so any msgpack library can read Lyra's bodies.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });
/** The Agent Protocol's discrimination rule (§5.3): after tab, LF, CR and space, a `{` means JSON. */
const JSON_START = /^[\t\n\r ]*\{/;

/** A decoded body: which encoding it came in, and its value (a string for plain text). */
export type Decoded =
  | { encoding: typeof Encoding.Msgpack; value: unknown }
  | { encoding: typeof Encoding.Json; value: unknown }
  | { encoding: "text"; value: string };

export function contentTypeOf(enc: Encoding): ContentType {
  return enc === Encoding.Msgpack ? ContentType.Msgpack : ContentType.Json;
}

/** The encoding named by a Content-Type header, or undefined when it names none we know. */
export function encodingOf(contentType: string | undefined): Encoding | "text" | undefined {
  if (!contentType) return undefined;
  const ct = contentType.split(";")[0]!.trim().toLowerCase();
  if (ct === ContentType.Msgpack || ct === "application/x-msgpack" || ct === "application/vnd.msgpack") {
    return Encoding.Msgpack;
  }
  if (ct === ContentType.Json) return Encoding.Json;
  if (ct.startsWith("text/")) return "text";
  return undefined;
}

export function encode(value: unknown, enc: Encoding): Uint8Array {
  return enc === Encoding.Msgpack ? packr.pack(value) : utf8.encode(JSON.stringify(value));
}

/**
 * Decodes a body. With a Content-Type header, that decides; without one, a body whose first
 * non-blank byte is `{` is JSON and anything else is a plain-text prompt (NATS Agent Protocol
 * discrimination rule). Empty bodies and undecodable bytes throw InvalidBodyError.
 */
export function decode(data: Uint8Array, contentType?: string): Decoded {
  if (data.length === 0) throw new InvalidBodyError("empty body: send a prompt as text, JSON or msgpack");
  const declared = encodingOf(contentType);
  if (contentType && declared === undefined) {
    throw new InvalidBodyError(`unsupported Content-Type '${contentType}': use ${ContentType.Msgpack} or ${ContentType.Json}`);
  }
  if (declared === Encoding.Msgpack) {
    try {
      return { encoding: Encoding.Msgpack, value: packr.unpack(data) };
    } catch (err) {
      throw new InvalidBodyError("body is not valid msgpack", [String(err)], { cause: err });
    }
  }
  const text = decodeText(data);
  if (declared === Encoding.Json || (declared === undefined && JSON_START.test(text))) {
    try {
      return { encoding: Encoding.Json, value: JSON.parse(text) };
    } catch (err) {
      throw new InvalidBodyError("body is not valid JSON", [String(err)], { cause: err });
    }
  }
  return { encoding: "text", value: text };
}

function decodeText(data: Uint8Array): string {
  try {
    return utf8Strict.decode(data);
  } catch (err) {
    throw new InvalidBodyError("body is not valid UTF-8 (set Content-Type: application/msgpack for msgpack)", [], {
      cause: err,
    });
  }
}

/** Validates a decoded value against a schema; failures become InvalidBodyError with the paths. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const detail = r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(body)"}: ${i.message}`);
  throw new InvalidBodyError(`invalid ${what}: ${detail.slice(0, 5).join("; ")}`, detail);
}

/** Refuses a payload over `limit` bytes before it is sent. */
export function assertFits(data: Uint8Array, limit: number, what?: string): void {
  if (limit > 0 && data.length > limit) throw new PayloadTooLargeError(data.length, limit, what);
}
