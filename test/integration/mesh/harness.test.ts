import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { startNatsServer } from "../../harness/nats-server.ts";

describe("nats-server harness", () => {
  it("starts a JetStream server on a random port and connects", async () => {
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    expect(mesh.maxPayload()).toBeGreaterThan(0);
    const info = await mesh.nc.request("$JS.API.INFO", undefined, { timeout: 2000 });
    expect(info.json<{ type: string }>().type).toContain("account_info_response");
  });
});
