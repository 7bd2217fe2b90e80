/**
 * The response cache's KV bucket under the generated users: an agent host serving a role with a
 * cache writes and reads answers and the semantic index (create, then update by revision) through
 * the code that uses them; a host without such a role cannot open the bucket at all.
 */
import { describe, expect, it } from "vitest";
import { createResponseCacheStore } from "../../../agents/host/respcache-store.ts";
import { responseCacheBucket } from "../../../mesh/auth/permissions.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { connectAs, generateAuth } from "./helpers.ts";

const YAML = `
mesh: { name: test, owner: tester }
roles:
  pragmatist: { model: m, backend: scripted, script: [{ reply: p }], cache: { semantic: { threshold: 0.9 } } }
  voice: { kind: voice, model: m, backend: scripted, script: [{ reply: v }] }
hosts:
  gpu-a: { roles: [pragmatist] }
  gpu-v: { roles: [voice] }
`;

const answer = {
  text: "cached answer",
  final: { model: "m", backend: "scripted", host: "gpu-a", usage: {}, timings: { total_ms: 1 } },
  at: 1,
};

describe("the response cache bucket under the generated users", () => {
  it("a host with a cached role writes and reads answers and the index; a host without one cannot", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    const warnings: unknown[] = [];
    const log = { ...silentLogger, warn: (...a: unknown[]) => void warnings.push(a) } as typeof silentLogger;
    await using agent = await connectAs(auth, "agent-gpu-a", server.url);
    const store = createResponseCacheStore(agent.nc, { bucket: responseCacheBucket("test"), maxAgeMs: 3_600_000, log });
    await store.putAnswer("x.pub.k1", answer as never, 60_000);
    expect((await store.getAnswer("x.pub.k1"))?.text).toBe("cached answer");
    const vector = Float32Array.from([0.6, 0.8]);
    await store.addToIndex("s.pub.c1", { key: "x.pub.k1", vector, exp: Date.now() + 60_000 });
    await store.addToIndex("s.pub.c1", { key: "x.pub.k2", vector, exp: Date.now() + 60_000 });
    expect((await store.getIndex("s.pub.c1")).map((i) => [i.key, [...i.vector].map((x) => x.toFixed(1))])).toEqual([
      ["x.pub.k1", ["0.6", "0.8"]],
      ["x.pub.k2", ["0.6", "0.8"]],
    ]);
    expect(warnings).toEqual([]);

    await using voiceHost = await connectAs(auth, "agent-gpu-v", server.url);
    const refused = createResponseCacheStore(voiceHost.nc, { bucket: responseCacheBucket("test"), maxAgeMs: 3_600_000, log });
    expect(await refused.getAnswer("x.pub.k1")).toBeUndefined();
    expect(String(warnings.flat().map((w) => (w as { err?: Error }).err?.message ?? w))).toMatch(/permission|authoriz/i);
  }, 30_000);
});
