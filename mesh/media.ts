/**
 * The media store: images and audio in the JetStream Object Store bucket `LYRA_MEDIA`, with a
 * maximum age. Objects are content-addressed (`<kind>/<sha256>`), so storing the same bytes twice
 * keeps one copy, and a reader checks size and digest of what it fetched.
 */
import { createHash } from "node:crypto";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { INLINE_MEDIA_MAX_BYTES, MAX_MEDIA_BYTES, Media, sniffMedia, validate } from "../schemas/index.ts";
import { MeshCode, MeshError } from "./errors.ts";
import type { Mesh } from "./connect.ts";

export const MEDIA_BUCKET = "LYRA_MEDIA";
/** How long a stored item lives unless configured otherwise, ms. */
export const DEFAULT_MEDIA_MAX_AGE_MS = 7 * 24 * 3600_000;

export interface MediaStoreOptions {
  /** Maximum age of stored items, ms (applies when this call creates the bucket). */
  maxAgeMs?: number;
  /** Stream replicas of the bucket (3 on a three-node cluster). */
  replicas?: number;
}

/** Opens `LYRA_MEDIA`, creating it when missing. */
export async function mediaStore(mesh: Mesh, opts: MediaStoreOptions = {}): Promise<ObjectStore> {
  return new Objm(mesh.nc).create(MEDIA_BUCKET, {
    ttl: (opts.maxAgeMs ?? DEFAULT_MEDIA_MAX_AGE_MS) * 1_000_000,
    ...(opts.replicas ? { replicas: opts.replicas } : {}),
  });
}

export interface PutMediaOptions extends MediaStoreOptions {
  filename?: string;
  /** "auto" (default): inline up to INLINE_MEDIA_MAX_BYTES, else stored; "store": always stored. */
  placement?: "auto" | "store";
}

/**
 * Checks what the bytes are (sniffed, never trusted from a name) and their size, then returns the
 * Media item to send: inline when small, else a reference to the stored object.
 */
export async function putMedia(mesh: Mesh, bytes: Uint8Array, opts: PutMediaOptions = {}): Promise<Media> {
  if (bytes.length > MAX_MEDIA_BYTES) {
    throw new MeshError(MeshCode.MediaTooLarge, `media is ${bytes.length} bytes, over the mesh's limit of ${MAX_MEDIA_BYTES}`);
  }
  const { kind, mime } = sniffMedia(bytes);
  const base = { kind, mime, size: bytes.length, ...(opts.filename ? { filename: opts.filename } : {}) };
  if ((opts.placement ?? "auto") === "auto" && bytes.length <= INLINE_MEDIA_MAX_BYTES) {
    return validate(Media, { ...base, data: Buffer.from(bytes).toString("base64") }, "media");
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const object = `${kind}/${sha256}`;
  const os = await mediaStore(mesh, opts);
  if (!(await os.info(object))) await os.putBlob({ name: object }, bytes);
  return validate(Media, { ...base, object, sha256 }, "media");
}

/** The bytes of a media item: decoded inline data, or the stored object with its size and digest checked. */
export async function readMedia(mesh: Mesh, media: Media): Promise<Uint8Array> {
  const m = validate(Media, media, "media");
  let bytes: Uint8Array | null;
  if (m.data !== undefined) {
    bytes = Buffer.from(m.data, "base64");
  } else {
    try {
      bytes = await (await new Objm(mesh.nc).open(MEDIA_BUCKET)).getBlob(m.object!);
    } catch (err) {
      throw new MeshError(
        MeshCode.MediaUnavailable,
        `media ${m.object} could not be fetched from ${MEDIA_BUCKET}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (bytes === null)
      throw new MeshError(MeshCode.MediaUnavailable, `media ${m.object} is gone from ${MEDIA_BUCKET} (expired or deleted)`);
  }
  if (bytes.length !== m.size)
    throw new MeshError(MeshCode.MediaCorrupt, `media is ${bytes.length} bytes, not the ${m.size} its reference says`);
  if (m.sha256 !== undefined && createHash("sha256").update(bytes).digest("hex") !== m.sha256) {
    throw new MeshError(MeshCode.MediaCorrupt, `media ${m.object ?? "(inline)"} failed its SHA-256 check`);
  }
  return bytes;
}

/** The URI an MCP `resource_link` uses for a stored item: `lyra-media:<kind>/<sha256>`. */
export const MEDIA_URI_PREFIX = "lyra-media:";
export function mediaUri(media: Media): string | undefined {
  return media.object === undefined ? undefined : `${MEDIA_URI_PREFIX}${media.object}`;
}

/**
 * The Media reference of a stored object, from its name (`<kind>/<sha256>`, or its `lyra-media:` URI):
 * the size from the store, the type sniffed from the first bytes. Null when the store has no such
 * object (expired, deleted or never stored).
 */
export async function statMedia(mesh: Mesh, name: string): Promise<Media | null> {
  const object = name.startsWith(MEDIA_URI_PREFIX) ? name.slice(MEDIA_URI_PREFIX.length) : name;
  const sha256 = /^[a-z]+\/([0-9a-f]{64})$/.exec(object)?.[1];
  if (!sha256)
    throw new MeshError(
      MeshCode.MediaBadReference,
      `'${name.slice(0, 100)}' is not a media reference; use '<kind>/<sha256>', e.g. image/3f5a… (64 hex digits)`,
    );
  const os = await new Objm(mesh.nc).open(MEDIA_BUCKET).catch(() => undefined);
  const r = os && (await os.get(object));
  if (!r || r.info.deleted) return null;
  // Sniffing needs the first bytes only: read the first chunk, then let the rest go.
  const reader = r.data.getReader();
  const first = await reader.read();
  await reader.cancel().catch(() => undefined);
  const { kind, mime } = sniffMedia(first.value ?? new Uint8Array());
  return validate(Media, { kind, mime, size: r.info.size, object, sha256 }, "media");
}
