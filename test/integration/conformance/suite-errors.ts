/**
 * §9 of the conformance suite: every error code a Lyra role sends from the §9.2 table, each as an
 * error-headered message then the terminator (§9.3), with Lyra's extra cases (deadline passed)
 * mapped onto the table. 401, 403 and 404 are not reachable through the CLI's roles; mesh.test.ts
 * checks them with handlers that raise them.
 */
import { describe, expect, it } from "vitest";
import { promptStream, shape, type StreamItem } from "./spec-client.ts";
import type { TargetKind } from "./target.ts";
import type { Ctx } from "./suite.ts";

const QUICK_MS = 20_000;

/** The error item of an error-terminated stream, after checking its §9.3 shape. */
export function errorOf(items: StreamItem[]): Extract<StreamItem, { kind: "error" }> {
  const sh = shape(items);
  expect(sh.at(-1)).toBe("end");
  expect(sh.at(-2)).toMatch(/^error:/);
  expect(sh.filter((x) => x.startsWith("error:"))).toHaveLength(1);
  const e = items.at(-2) as Extract<StreamItem, { kind: "error" }>;
  expect(e.description.length).toBeGreaterThan(0);
  // §9.1: a JSON body, when there is one, has a machine-readable `error`.
  if (e.body) expect(typeof e.body.error).toBe("string");
  expect(["400", "401", "403", "404", "409", "429", "500"]).toContain(e.code);
  return e;
}

export function defineErrorTests(kind: TargetKind, ctx: Ctx): void {
  describe(`${kind}: §5.3, §9 errors`, () => {
    const bad400: [string, string | Uint8Array][] = [
      ["§5.3: a zero-byte payload", new Uint8Array(0)],
      ["§5.3: a body starting with '{' that is not JSON", "{ not json"],
      ["§5.1, §5.3: a JSON request without `prompt`", JSON.stringify({ attachments: [], note: "no prompt" })],
      ["§5.3: a JSON request whose `prompt` is not a string", JSON.stringify({ prompt: 42 })],
      ["§5.1: an empty `prompt`", JSON.stringify({ prompt: "" })],
      [
        "§5.2: attachment content that is not padded standard base64",
        JSON.stringify({ prompt: "p", attachments: [{ filename: "a.png", content: "a b-_" }] }),
      ],
    ];
    it.each(bad400)("%s is a 400, without an ack, then the terminator (§9.2, §9.3)", async (_name, payload) => {
      const s = await promptStream(ctx.t.nc, ctx.prompt("eye"), payload, { inactivityMs: QUICK_MS });
      expect(s.stalled).toBe(false);
      expect(shape(s.items)).toHaveLength(2);
      expect(errorOf(s.items).code).toBe("400");
    });

    it("§2.1, §5.1, §9.2: attachments to a role whose attachments_ok is false are a 400", async () => {
      const body = JSON.stringify({ prompt: "look", attachments: [{ filename: "a.txt", content: Buffer.from("hi").toString("base64") }] });
      const s = await promptStream(ctx.t.nc, ctx.prompt("voice"), body, { inactivityMs: QUICK_MS });
      const e = errorOf(s.items);
      expect(e.code).toBe("400");
      expect(e.description).toMatch(/attachments_ok: false/);
    });

    it("§9.2 409 (Lyra's deadline passed): a request past its Lyra-Deadline is refused as a conflict, deadline_exceeded", async () => {
      const s = await promptStream(ctx.t.nc, ctx.prompt("voice"), "too late", {
        inactivityMs: QUICK_MS,
        headers: { "Lyra-Deadline": String(Date.now() - 60_000) },
      });
      const e = errorOf(s.items);
      expect(e.code).toBe("409");
      expect(e.body).toMatchObject({ error: "deadline_exceeded", lyra_status: 408 });
    });

    it("§9.2 429: a role at its concurrency limit, with no queue, refuses the next prompt with retry_after_s", async () => {
      let acked!: () => void;
      const ack = new Promise<void>((r) => (acked = r));
      const first = promptStream(ctx.t.nc, ctx.prompt("slow"), "first", {
        inactivityMs: QUICK_MS,
        onItem: (i) => i.kind === "chunk" && acked(),
      });
      await ack; // the one slot is taken
      const s = await promptStream(ctx.t.nc, ctx.prompt("slow"), "second", { inactivityMs: QUICK_MS });
      const e = errorOf(s.items);
      expect(e.code).toBe("429");
      expect(e.body?.retry_after_s).toBeGreaterThan(0);
      expect(shape((await first).items).at(-2)).toBe("response");
    }, 60_000);

    it("§9.2 500, §9.3: a failure after the ack is an error-headered message then the terminator", async () => {
      const s = await promptStream(ctx.t.nc, ctx.prompt("voice"), "fail-please", { inactivityMs: QUICK_MS });
      expect(shape(s.items)[0]).toBe("status:ack");
      expect(errorOf(s.items).code).toBe("500");
    });
  });
}
