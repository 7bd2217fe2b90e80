/** `lyra serve`'s /readyz: 503 with the reasons while NATS is disconnected or it drains; 200 otherwise. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Readiness } from "../../../mesh/index.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { eventually } from "../../harness/eventually.ts";
import { serveFixture, type ServeFixture } from "./serve-helpers.ts";

let f: ServeFixture;
let restarted: NatsServer | undefined;
beforeAll(async () => {
  f = await serveFixture({ committee: false });
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
  await restarted?.[Symbol.asyncDispose]();
});

async function probe(): Promise<{ status: number; body: Readiness }> {
  const r = await fetch(f.serve.url.replace(/\/v1$/, "/readyz"));
  return { status: r.status, body: (await r.json()) as Readiness };
}

describe("lyra serve /readyz", () => {
  it("is ready with NATS up, needs no key, and is not ready while NATS is disconnected", async () => {
    expect(await probe()).toEqual({ status: 200, body: { ready: true, reasons: [] } });
    const { port, storeDir } = f.server;
    await f.server.close();
    await eventually("/readyz says NATS is disconnected", async () => {
      const r = await probe();
      return r.status === 503 && r.body.reasons.some((x) => /NATS disconnected/.test(x));
    });
    restarted = await startNatsServer({ port, storeDir });
    await eventually("/readyz ready after the reconnect", async () => (await probe()).status === 200, { timeoutMs: 30_000 });
  });

  it("is not ready while it drains", async () => {
    let started!: () => void;
    const inHandler = new Promise<void>((r) => (started = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await using _voice = await serveRole(f.mesh, {
      role: "voice",
      host: "test",
      heartbeatIntervalS: 0,
      async *handler() {
        started();
        await released;
        yield { type: "response", data: "done" };
      },
    });
    await f.mesh.nc.flush();
    const answer = f.post("/chat/completions", JSON.stringify({ model: "lyra/voice", messages: [{ role: "user", content: "hi" }] }));
    await inHandler;
    const stopping = f.serve.drain();
    // What /readyz answers; a draining server takes no new connections, which a probe reads as not ready too.
    expect(f.serve.ready()).toEqual({ ready: false, reasons: ["draining"] });
    await expect(probe()).rejects.toThrow();
    release();
    expect((await answer).status).toBe(200);
    await stopping;
  });
});
