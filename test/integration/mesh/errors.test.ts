import { describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { connectMesh } from "../../../mesh/connect.ts";
import { queryServices } from "../../../mesh/discovery.ts";
import { isNoResponders } from "../../../mesh/errors.ts";
import { startNatsServer } from "../../harness/nats-server.ts";

describe("isNoResponders", () => {
  it("recognises a real nats-server's no-responders, by type, from request and requestMany, and nothing else", async () => {
    await using server = await startNatsServer({ jetstream: false });
    await using mesh = await connectMesh({ servers: server.url });
    const fromRequest = await mesh.nc.request("lyra.nobody", "x", { timeout: 2000 }).catch((err: unknown) => err);
    expect(isNoResponders(fromRequest)).toBe(true);
    const fromMany = await (async () => {
      for await (const _ of await mesh.nc.requestMany("lyra.nobody", "x", { maxWait: 2000 })) void _;
    })().catch((err: unknown) => err);
    expect(isNoResponders(fromMany)).toBe(true);
    // Discovery reads it as an empty mesh.
    await expect(queryServices(mesh, undefined, 500)).resolves.toMatchObject({ infos: [] });

    // A request that something receives but nobody answers times out: not no-responders.
    const sub = mesh.nc.subscribe("lyra.silent", { callback: () => undefined });
    const timedOut = await mesh.nc.request("lyra.silent", "x", { timeout: 200 }).catch((err: unknown) => err);
    sub.unsubscribe();
    expect(timedOut).toBeInstanceOf(Error);
    expect(isNoResponders(timedOut)).toBe(false);
    // A message that merely says so is not the error.
    expect(isNoResponders(new Error("no responders: 'lyra.nobody'"))).toBe(false);
    // JetStream reads it as "not enabled", by a class it does not export: mesh/publish-stored.ts tells it by name.
    const js = await jetstream(mesh.nc)
      .publish("lyra.nostream", "x", { timeout: 500 })
      .catch((err: unknown) => err);
    expect(js).toMatchObject({ name: "JetStreamNotEnabled" });
  });
});
