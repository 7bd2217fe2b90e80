/**
 * Media (images, audio) that travel with a user message (the inbox's `media`: a user's images for
 * a vision role) or with a reply (the outbox's `media`: the artist's images, speech audio). Small
 * items go inline as base64; larger ones live in the JetStream Object Store bucket `LYRA_MEDIA`
 * (mesh/media.ts) and travel as a reference: object name, size and SHA-256, never megabytes in a
 * NATS message.
 */
import { z } from "zod";
import { InvalidBodyError } from "./errors.ts";

/** The largest media item accepted anywhere in the mesh, bytes. */
export const MAX_MEDIA_BYTES = 32 * 1024 * 1024;
/** Items up to this size may go inline; larger ones must go by Object Store reference. */
export const INLINE_MEDIA_MAX_BYTES = 256 * 1024;

export const MediaKind = { Image: "image", Audio: "audio" } as const;
export type MediaKind = (typeof MediaKind)[keyof typeof MediaKind];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const Media = z
  .strictObject({
    kind: z.enum([MediaKind.Image, MediaKind.Audio]),
    /** The sniffed type (see sniffMedia), e.g. image/png, audio/mpeg. */
    mime: z.string().regex(/^(image|audio)\/[a-z0-9.+-]{1,64}$/, "is not an image/* or audio/* type"),
    size: z.number().int().nonnegative().max(MAX_MEDIA_BYTES),
    filename: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^/\\\0]+$/, "must not contain '/', '\\' or NUL")
      .optional(),
    /** Inline bytes, padded standard base64 (small items only). */
    data: z
      .string()
      .max(Math.ceil(INLINE_MEDIA_MAX_BYTES / 3) * 4)
      .regex(BASE64, "is not padded standard base64")
      .optional(),
    /** Name of the object in the `LYRA_MEDIA` bucket. */
    object: z
      .string()
      .regex(/^[a-z]+\/[0-9a-f]{64}$/, "is not a media object name")
      .optional(),
    /** SHA-256 of the bytes, hex; required with `object`. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "is not a hex SHA-256")
      .optional(),
  })
  .refine((m) => (m.data === undefined) !== (m.object === undefined), {
    message: "a media item has exactly one of 'data' (inline) or 'object' (reference)",
  })
  .refine((m) => m.object === undefined || m.sha256 !== undefined, { message: "a media reference needs its 'sha256'" });
export type Media = z.infer<typeof Media>;

const MEDIA_TYPES: { mime: string; kind: MediaKind; test: (b: Uint8Array) => boolean }[] = [
  { mime: "image/png", kind: "image", test: (b) => at(b, 0, 0x89, 0x50, 0x4e, 0x47) },
  { mime: "image/jpeg", kind: "image", test: (b) => at(b, 0, 0xff, 0xd8, 0xff) },
  { mime: "image/gif", kind: "image", test: (b) => at(b, 0, 0x47, 0x49, 0x46, 0x38) },
  { mime: "image/webp", kind: "image", test: (b) => at(b, 0, 0x52, 0x49, 0x46, 0x46) && at(b, 8, 0x57, 0x45, 0x42, 0x50) },
  { mime: "audio/wav", kind: "audio", test: (b) => at(b, 0, 0x52, 0x49, 0x46, 0x46) && at(b, 8, 0x57, 0x41, 0x56, 0x45) },
  { mime: "audio/ogg", kind: "audio", test: (b) => at(b, 0, 0x4f, 0x67, 0x67, 0x53) },
  { mime: "audio/flac", kind: "audio", test: (b) => at(b, 0, 0x66, 0x4c, 0x61, 0x43) },
  // MP3: an ID3v2 tag, or an MPEG audio frame sync (11 set bits) with a layer; AAC (ADTS) has layer 00.
  {
    mime: "audio/mpeg",
    kind: "audio",
    test: (b) => at(b, 0, 0x49, 0x44, 0x33) || (b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0 && ((b[1] ?? 0) & 0x06) !== 0),
  },
  { mime: "audio/aac", kind: "audio", test: (b) => b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0 },
];

function at(b: Uint8Array, i: number, ...xs: number[]): boolean {
  return xs.every((x, j) => b[i + j] === x);
}

/**
 * What the bytes are, by their magic numbers (never by a declared type or a file name): throws
 * InvalidBodyError when they are no supported image or audio format.
 */
export function sniffMedia(bytes: Uint8Array): { kind: MediaKind; mime: string } {
  const t = MEDIA_TYPES.find((m) => m.test(bytes));
  if (!t)
    throw new InvalidBodyError("media is no supported format: send png, jpeg, gif or webp images, or wav, ogg, flac, mp3 or aac audio");
  return { kind: t.kind, mime: t.mime };
}
