/** The agent host's tool plane: what a role is offered, the listing cache, servers that do not answer. */
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { createToolPlane } from "../../../agents/host/tools.ts";
import { clockServer, sdkHandler, serveMcp } from "../../../tools/index.ts";
import { startNatsServer } from "../../harness/nats-server.ts";

describe("the tool plane", () => {
  it("offers only granted tools, reuses a listing within its TTL, and leaves out a server that does not answer", async () => {
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const clock = await serveMcp(mesh, { server: "clock", tenant: "test", host: "t1", handler: sdkHandler(() => clockServer()) });
    // Takes requests, keeps its stream alive, never answers.
    const hung = await serveMcp(mesh, {
      server: "hung",
      tenant: "test",
      host: "t1",
      keepAliveMs: 50,
      handler: (_req, ctx) => new Promise((_res, rej) => ctx.signal.addEventListener("abort", () => rej(new Error("cancelled")))),
    });
    const lists: string[] = [];
    const tap = mesh.nc.subscribe(subjects.mcpRequest("test", "pragmatist", "clock", "tools/list", undefined), {
      callback: (_e, m) => void lists.push(m.subject),
    });
    const plane = createToolPlane({ mesh, tenant: "test", log: silentLogger, listTimeoutMs: 1500 });
    try {
      const offer = await plane.offer("pragmatist", ["clock.now", "hung.*"]);
      expect(offer.specs.map((s) => s.name)).toEqual(["clock__now"]);
      expect(offer.specs[0]!.description).toMatch(/current date and time/);
      expect(offer.names.get("clock__now")).toEqual({ server: "clock", tool: "now" });

      expect((await plane.offer("pragmatist", ["clock.*"])).specs.map((s) => s.name).sort()).toEqual(["clock__now", "clock__wait"]);
      await mesh.nc.flush();
      expect(lists.length).toBe(1); // the second offer used the cached listing

      const refused = await plane.call(
        "pragmatist",
        ["clock.now"],
        { id: "c1", name: "clock__wait", arguments: { seconds: 1 } },
        { timeoutMs: 1000 },
      );
      expect(refused).toMatchObject({ status: "refused", isError: true, server: "clock", tool: "wait" });
      const ok = await plane.call("pragmatist", ["clock.now"], { id: "c2", name: "clock__now", arguments: {} }, { timeoutMs: 5000 });
      expect(ok).toMatchObject({ status: "ok", isError: false });
      expect(ok.text).toMatch(/\(UTC\)$/);
    } finally {
      tap.unsubscribe();
      plane.close();
      await hung.close();
      await clock.close();
    }
  });
});
