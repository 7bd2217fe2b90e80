import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { MEDIA_BUCKET, putMedia, readMedia } from "../../../mesh/media.ts";
import { INLINE_MEDIA_MAX_BYTES, InboxMessage, Media, sniffMedia, validate } from "../../../schemas/index.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { Objm } from "@nats-io/obj";

const png = (size: number) => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(size - 8)]);

describe("media store (LYRA_MEDIA)", () => {
  it("inlines small items, stores large ones by content address, and reads both back byte-identical", async () => {
    await using nats = await startNatsServer();
    await using mesh = await connectMesh({ servers: nats.url });
    const small = png(1000);
    const inline = await putMedia(mesh, small, { filename: "a.png" });
    expect(inline).toMatchObject({ kind: "image", mime: "image/png", size: 1000, filename: "a.png" });
    expect(inline.object).toBeUndefined();
    expect(Buffer.from(await readMedia(mesh, inline)).equals(small)).toBe(true);

    const big = png(10 * 1024 * 1024);
    const ref = await putMedia(mesh, big);
    expect(ref.data).toBeUndefined();
    expect(ref.object).toMatch(/^image\/[0-9a-f]{64}$/);
    expect(Buffer.from(await readMedia(mesh, ref)).equals(big)).toBe(true);
    // The reference is small enough for any NATS message.
    expect(JSON.stringify(ref).length).toBeLessThan(300);
    // Same bytes, same object: stored once.
    expect((await putMedia(mesh, big)).object).toBe(ref.object);
    const names = (await (await new Objm(mesh.nc).open(MEDIA_BUCKET)).list()).map((o) => o.name);
    expect(names).toEqual([ref.object]);
    // "store" keeps even a small item out of the message.
    expect((await putMedia(mesh, small, { placement: "store" })).object).toMatch(/^image\//);
  });

  it("refuses unknown formats, tampered references and missing objects with clear errors", async () => {
    await using nats = await startNatsServer();
    await using mesh = await connectMesh({ servers: nats.url });
    await expect(putMedia(mesh, Buffer.from("%PDF-1.7 not an image"))).rejects.toThrow(/no supported format/);
    const ref = await putMedia(mesh, png(INLINE_MEDIA_MAX_BYTES + 1));
    await expect(readMedia(mesh, { ...ref, size: ref.size + 1 })).rejects.toThrow(/not the .* its reference says/);
    await expect(readMedia(mesh, { ...ref, sha256: "0".repeat(64) })).rejects.toThrow(/SHA-256/);
    await expect(readMedia(mesh, { ...ref, object: `image/${"a".repeat(64)}`, sha256: "a".repeat(64) })).rejects.toThrow(
      /is gone from LYRA_MEDIA/,
    );
  });
});

describe("Media schema", () => {
  const ok = { kind: "image", mime: "image/png", size: 3, data: "AAAA" };
  it.each([
    ["neither data nor object", { kind: "image", mime: "image/png", size: 3 }, /exactly one of/],
    ["both data and object", { ...ok, object: `image/${"a".repeat(64)}`, sha256: "a".repeat(64) }, /exactly one of/],
    ["object without sha256", { kind: "image", mime: "image/png", size: 3, object: `image/${"a".repeat(64)}` }, /needs its 'sha256'/],
    ["a non-media type", { ...ok, mime: "text/html" }, /image\/\* or audio/],
    ["a path in the file name", { ...ok, filename: "../etc/passwd" }, /must not contain/],
    [
      "an object name outside the scheme",
      { kind: "image", mime: "image/png", size: 3, object: "../x", sha256: "a".repeat(64) },
      /media object name/,
    ],
    ["url-safe base64", { ...ok, data: "-_-_" }, /base64/],
    ["an unknown field", { ...ok, url: "http://x" }, /url/],
    ["a size over the limit", { ...ok, size: 1e12 }, /size/],
  ])("refuses %s", (_what, value, message) => {
    expect(() => validate(Media, value, "media")).toThrow(message);
  });

  it("sniffs formats from bytes, never from names", () => {
    expect(sniffMedia(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toEqual({ kind: "image", mime: "image/jpeg" });
    expect(sniffMedia(Buffer.from("RIFF\0\0\0\0WAVEfmt "))).toEqual({ kind: "audio", mime: "audio/wav" });
    expect(sniffMedia(Buffer.from("ID3\x04\0"))).toEqual({ kind: "audio", mime: "audio/mpeg" });
    expect(sniffMedia(Buffer.from([0xff, 0xf1, 0x50, 0x80]))).toEqual({ kind: "audio", mime: "audio/aac" });
    expect(() => sniffMedia(Buffer.from("GIF"))).toThrow(/no supported format/);
  });

  it("travels in an inbox message", () => {
    const m = validate(
      InboxMessage,
      { id: "m1", channel: "discord", conversation: "c1", user: { id: "u" }, text: "what is this?", media: [ok] },
      "inbox message",
    );
    expect(m.media).toHaveLength(1);
  });
});
