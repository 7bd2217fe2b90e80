/** Images in, images and audio out: Discord attachments to and from the mesh's Media items. */
import type { RawFile } from "discord.js";
import { putMedia, readMedia, type Mesh } from "../../../mesh/index.ts";
import type { Media } from "../../../schemas/index.ts";
import { AgentError, AgentErrorCode, Fault } from "../../errors.ts";
import type { DiscordAttachment } from "./payloads.ts";

/** A user's attachment that cannot go into the envelope; its message says why, for the user. */
export class AttachmentRefused extends AgentError {
  constructor(message: string) {
    super(AgentErrorCode.AttachmentRefused, Fault.User, message);
  }
}

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
const DOWNLOAD_TIMEOUT_MS = 20_000;

/**
 * The attachments as Media items: declared type and size checked first (nothing oversized is
 * downloaded), then the bytes sniffed (a .png that is not a PNG is refused) and stored via putMedia.
 */
export async function attachmentsToMedia(mesh: Mesh, atts: DiscordAttachment[], maxBytes: number): Promise<Media[]> {
  const out: Media[] = [];
  for (const a of atts) {
    const declared = (a.content_type ?? "").split(";")[0]!.trim();
    if (!IMAGE_TYPES.includes(declared))
      throw new AttachmentRefused(
        `I can only look at images (png, jpeg, gif, webp); '${a.filename}' is ${declared || "of an unknown type"}.`,
      );
    if (a.size > maxBytes) throw new AttachmentRefused(`'${a.filename}' is ${mb(a.size)}; I take images up to ${mb(maxBytes)}.`);
    const bytes = await download(a.url, maxBytes, a.filename);
    let media: Media;
    try {
      media = await putMedia(mesh, bytes, { filename: safeName(a.filename) });
    } catch {
      throw new AttachmentRefused(`'${a.filename}' is not a png, jpeg, gif or webp image.`);
    }
    if (media.kind !== "image") throw new AttachmentRefused(`'${a.filename}' is not an image.`);
    out.push(media);
  }
  return out;
}

async function download(url: string, maxBytes: number, filename: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch {
    throw new AttachmentRefused(`I could not download '${filename}'; please try again.`);
  }
  if (!res.ok || !res.body) throw new AttachmentRefused(`I could not download '${filename}' (HTTP ${res.status}); please try again.`);
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of res.body as AsyncIterable<Uint8Array>) {
    size += part.length;
    // The declared size may lie: stop reading at the limit.
    if (size > maxBytes) {
      await res.body.cancel().catch(() => undefined);
      throw new AttachmentRefused(`'${filename}' is larger than ${mb(maxBytes)}.`);
    }
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/** The reply's media as files to upload (names from the item, else by type). */
export async function mediaToFiles(mesh: Mesh, media: Media[]): Promise<RawFile[]> {
  const files: RawFile[] = [];
  for (const [i, m] of media.entries()) {
    const data = Buffer.from(await readMedia(mesh, m));
    const ext = m.mime.split("/")[1]!.replace("mpeg", "mp3").replace("jpeg", "jpg");
    files.push({ name: m.filename ?? `${m.kind}-${i + 1}.${ext}`, data, contentType: m.mime });
  }
  return files;
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const safeName = (f: string) => f.replace(/[/\\\0]/g, "_").slice(0, 256);
