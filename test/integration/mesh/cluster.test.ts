import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { ensureStreams, StreamName } from "../../../mesh/streams.ts";
import { startNatsCluster } from "../../harness/nats-server.ts";

describe("a three-node JetStream cluster", () => {
  it("holds the mesh's streams with three replicas, and ensureStreams is idempotent", async () => {
    await using cluster = await startNatsCluster(3);
    await using mesh = await connectMesh({ servers: cluster.urls });
    // A fresh cluster elects its JetStream meta leader within a few seconds.
    let jsm;
    for (let i = 0; ; i++) {
      try {
        jsm = await ensureStreams(mesh, { replicas: 3 });
        break;
      } catch (err) {
        if (i > 60) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
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
