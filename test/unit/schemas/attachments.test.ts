/** Attachments (NATS Agent Protocol 0.3 §5.2): validated base64, images to the model, text into the prompt. */
import { describe, expect, it } from "vitest";
import { attachmentKind, InvalidBodyError, RoleRequest, requestMessages } from "../../../schemas/index.ts";

const b64 = (b: Uint8Array | string) => Buffer.from(b).toString("base64");
const PNG = b64(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));

describe("attachments", () => {
  it("a request with attachments keeps them, and unknown fields inside them (§5.6)", () => {
    const r = RoleRequest.parse({ prompt: "look", attachments: [{ filename: "a.png", content: PNG, x_extra: 1 }] });
    expect(r.attachments![0]).toMatchObject({ filename: "a.png", x_extra: 1 });
  });

  it.each([
    ["URL-safe alphabet", "ab-_"],
    ["whitespace", "aGVs bG8="],
    ["missing padding", "aGVsbG8"],
    ["not base64", "%%%%"],
  ])("refuses content with %s (§5.2)", (_why, content) => {
    expect(RoleRequest.safeParse({ prompt: "x", attachments: [{ filename: "a.txt", content }] }).success).toBe(false);
  });

  it("refuses an attachment without filename or content", () => {
    expect(RoleRequest.safeParse({ prompt: "x", attachments: [{ content: PNG }] }).success).toBe(false);
    expect(RoleRequest.safeParse({ prompt: "x", attachments: [{ filename: "a" }] }).success).toBe(false);
  });

  it("tells images (by extension or magic bytes) from text, and refuses other binaries", () => {
    expect(attachmentKind({ filename: "photo", content: PNG }).kind).toBe("image");
    expect(attachmentKind({ filename: "x.JPG", content: b64("not really") }).kind).toBe("image");
    expect(attachmentKind({ filename: "notes.md", content: b64("# hi") })).toEqual({ kind: "text", text: "# hi" });
    expect(() => attachmentKind({ filename: "a.bin", content: b64(new Uint8Array([0, 1, 2, 0xff])) })).toThrow(InvalidBodyError);
  });

  it("images join the last user turn as images, text files its content", () => {
    const r = RoleRequest.parse({
      prompt: "compare",
      attachments: [
        { filename: "a.png", content: PNG },
        { filename: "notes.txt", content: b64("two cats") },
      ],
    });
    const msgs = requestMessages(r);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.images).toEqual([PNG]);
    expect(msgs[0]!.content).toMatch(/^compare\n\n--- attachment: notes.txt ---\ntwo cats\n/);
  });

  it("with messages only, the attachments go to the last user message", () => {
    const r = RoleRequest.parse({
      messages: [
        { role: "user", content: "first" },
        { role: "user", content: "this one" },
        { role: "assistant", content: "ok" },
      ],
      attachments: [{ filename: "a.png", content: PNG }],
    });
    const msgs = requestMessages(r);
    expect(msgs[1]!.images).toEqual([PNG]);
    expect(msgs[0]!.images).toBeUndefined();
  });
});
