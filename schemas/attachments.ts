/**
 * Request attachments (NATS Agent Protocol 0.3 §5.2): `{ filename, content }`, content in padded
 * standard base64. No MIME type travels, so the bytes are interpreted by extension and by sniffing
 * (§5.2): images go to a vision model as images, UTF-8 text goes into the prompt, anything else
 * is refused with 400 rather than silently dropped.
 */
import { z } from "zod";
import { InvalidBodyError } from "./errors.ts";

// Standard alphabet, padded, no whitespace (§5.2: MUST NOT be URL-safe, MUST NOT contain whitespace).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const Attachment = z.looseObject({
  filename: z.string().min(1).max(1024),
  content: z
    .string()
    .max(64 * 1024 * 1024)
    .regex(BASE64, "is not padded standard base64 without whitespace (RFC 4648 §4)"),
});
export type Attachment = z.infer<typeof Attachment>;

export const AttachmentKind = { Image: "image", Text: "text" } as const;
export type AttachmentKind = (typeof AttachmentKind)[keyof typeof AttachmentKind];

const IMAGE_EXT = new Set(["png", "jpg", "jpeg", "gif", "webp", "bmp"]);
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** What an attachment is, by extension or content; throws InvalidBodyError when it is neither image nor text. */
export function attachmentKind(a: Attachment): { kind: AttachmentKind; text?: string } {
  const bytes = Buffer.from(a.content, "base64");
  const ext = a.filename.toLowerCase().split(".").at(-1) ?? "";
  if (IMAGE_EXT.has(ext) || isImage(bytes)) return { kind: AttachmentKind.Image };
  if (!bytes.includes(0)) {
    try {
      return { kind: AttachmentKind.Text, text: utf8Strict.decode(bytes) };
    } catch {
      // not UTF-8: falls through to the refusal
    }
  }
  throw new InvalidBodyError(
    `attachment '${a.filename.slice(0, 100)}' is neither an image (png, jpeg, gif, webp, bmp) nor UTF-8 text; convert it to one of those`,
  );
}

/** Magic numbers of the image formats vision models take. */
function isImage(b: Buffer): boolean {
  const at = (i: number, ...xs: number[]) => xs.every((x, j) => b[i + j] === x);
  return (
    at(0, 0x89, 0x50, 0x4e, 0x47) || // PNG
    at(0, 0xff, 0xd8, 0xff) || // JPEG
    at(0, 0x47, 0x49, 0x46, 0x38) || // GIF8
    (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) || // RIFF....WEBP
    at(0, 0x42, 0x4d) // BMP
  );
}

/** Attachments split for a model: base64 images, and text blocks to add to the prompt. */
export function attachmentParts(attachments: readonly Attachment[]): { images: string[]; text: string } {
  const images: string[] = [];
  let text = "";
  for (const a of attachments) {
    const k = attachmentKind(a);
    if (k.kind === AttachmentKind.Image) images.push(a.content);
    else text += `\n\n--- attachment: ${a.filename} ---\n${k.text}\n--- end of ${a.filename} ---`;
  }
  return { images, text };
}
