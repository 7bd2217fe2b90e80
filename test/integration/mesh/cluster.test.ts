import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { ensureStreams, StreamName } from "../../../mesh/streams.ts";
import { startNatsCluster } from "../../harness/nats-server.ts";
import { eventually } from "../../harness/eventually.ts";

describe("a three-node JetStream cluster", () => {
  it("holds the mesh's streams with three replicas, and ensureStreams is idempotent", async () => {
    await using cluster = await startNatsCluster(3);
    await using mesh = await connectMesh({ servers: cluster.urls });
    // A fresh cluster elects its JetStream meta leader within a few seconds.
    const jsm = await eventually("the replicated streams", () => ensureStreams(mesh, { replicas: 3 }), {
      timeoutMs: 15_000,
      intervalMs: 250,
    });
    for (const name of Object.values(StreamName)) {
      const info = await jsm.streams.info(name);
      expect(info.config.num_replicas, name).toBe(3);
      expect((info.cluster?.replicas?.length ?? 0) + 1, name).toBe(3);
    }
    const before = (await jsm.streams.info(StreamName.Log)).created;
    await ensureStreams(mesh, { replicas: 3 });
    expect((await jsm.streams.info(StreamName.Log)).created).toBe(before);
  }, 60_000);
});
