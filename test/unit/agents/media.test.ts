/** Media in tool results (what the reply will carry) and in a request's messages (what the model gets). */
import { describe, expect, it } from "vitest";
import { callOutcome } from "../../../agents/host/toolcontent.ts";
import { resolveMedia, type MediaAccess } from "../../../agents/host/media.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { formatEvent } from "../../../agents/cli/commands/log.ts";
import type { Media } from "../../../schemas/index.ts";

const ok = (result: Record<string, unknown>) => ({ jsonrpc: "2.0" as const, id: 1, result });
const sha = "c".repeat(64);
const stored: Media = { kind: "image", mime: "image/png", size: 4, object: `image/${sha}`, sha256: sha };
const inline: Media = { kind: "image", mime: "image/png", size: 3, data: "iVBO" };
const audio: Media = { kind: "audio", mime: "audio/mpeg", size: 4, object: `audio/${sha}`, sha256: sha };

describe("media in tool results", () => {
  it("takes the valid Media items of structuredContent.media, ignores the rest, and none from an error", () => {
    const r = callOutcome(
      ok({
        content: [{ type: "text", text: "made" }],
        structuredContent: { media: [stored, { kind: "image", object: "../x" }, "nope", audio] },
      }),
      "'t'",
    );
    expect(r.media).toEqual([stored, audio]);
    expect(callOutcome(ok({ content: [{ type: "text", text: "made" }], structuredContent: { media: "x" } }), "'t'").media).toBeUndefined();
    expect(
      callOutcome(ok({ content: [{ type: "text", text: "no" }], isError: true, structuredContent: { media: [stored] } }), "'t'").media,
    ).toBeUndefined();
  });
});

describe("media in a request's messages", () => {
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
  const access: MediaAccess = {
    read: (m) =>
      m.object === stored.object ? Promise.resolve(bytes) : Promise.reject(new Error(`media ${m.object} is gone from LYRA_MEDIA`)),
    store: (m) => Promise.resolve({ ...m, data: undefined, object: `image/${"d".repeat(64)}`, sha256: "d".repeat(64) }),
  };

  it("a vision role's model gets the bytes as base64 images, inline or fetched; media is removed", async () => {
    const [m] = await resolveMedia([{ role: "user", content: "what is it?", media: [inline, stored] }], true, access, silentLogger);
    expect(m).toEqual({ role: "user", content: "what is it?", images: ["iVBO", bytes.toString("base64")] });
  });

  it("another role's model gets a note with the reference (an inline item is stored for one), never the bytes", async () => {
    const [m] = await resolveMedia([{ role: "user", content: "hi", media: [inline, audio] }], false, access, silentLogger);
    expect(m!.images).toBeUndefined();
    expect(m!.media).toBeUndefined();
    expect(m!.content).toContain(
      `[The user attached an image (image/png, 3 bytes, reference image/${"d".repeat(64)}). ` +
        `You cannot see images: if a describe_image tool is offered, call it`,
    );
    expect(m!.content).toContain(`[The user attached audio (audio/mpeg, 4 bytes, reference audio/${sha}); you cannot listen to audio.]`);
  });

  it("an image that cannot be read is a note saying so, not a failure", async () => {
    const gone: Media = { ...stored, object: `image/${"e".repeat(64)}`, sha256: "e".repeat(64) };
    const [m] = await resolveMedia([{ role: "user", content: "look", media: [gone] }], true, access, silentLogger);
    expect(m!.images).toBeUndefined();
    expect(m!.content).toMatch(/could not be read: media image\/e+ is gone from LYRA_MEDIA\. Tell the user to send it again/);
  });

  it("without mesh access (the LiteLLM fallback) inline images still work and stored ones are explained", async () => {
    const [m] = await resolveMedia([{ role: "user", content: "x", media: [inline, stored] }], true, undefined, silentLogger);
    expect(m!.images).toEqual(["iVBO"]);
    expect(m!.content).toMatch(/this caller has no mesh connection to fetch it/);
  });
});

describe("lyra log shows media", () => {
  it("a user message's and a tool result's media, shortly", () => {
    const ts = Date.UTC(2026, 11, 1, 0, 10, 1);
    expect(
      formatEvent({
        type: "user_message",
        ts,
        conversation: "c",
        turn: "t",
        channel: "cli",
        user: { id: "ana" },
        text: "what is this?",
        media: [inline],
      }),
    ).toBe("00:10:01.000 user ana: what is this? [image/png 3 B inline]");
    expect(
      formatEvent({
        type: "tool_result",
        ts,
        conversation: "c",
        turn: "t",
        role: "artist",
        tool: "generate_image",
        server: "artist",
        outcome: "Generated 1 image",
        media: [stored, audio],
      }),
    ).toBe('00:10:01.000   ← artist.generate_image: "Generated 1 image" [image/png 4 B image/cccccccc…] [audio/mpeg 4 B audio/cccccccc…]');
  });
});
