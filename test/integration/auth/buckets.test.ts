/**
 * The JetStream buckets under the generated users, through the code that uses them: a tool host
 * parks a large result in the claim-check Object Store and the agent that called takes (reads,
 * checks, deletes) it; a knowledge server's KV cache writes and reads. Each is allowed only its
 * bucket's API, so a call this code makes that the permissions miss fails here.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../mesh/logger.ts";
import { putClaim, takeClaim } from "../../../tools/claim.ts";
import { createKvCache } from "../../../tools/builtin/knowledge/cache.ts";
import { jetstream } from "@nats-io/jetstream";
import { ensureStreams, StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { connectAs, generateAuth } from "./helpers.ts";

const YAML = `
mesh: { name: test, owner: tester }
roles:
  pragmatist: { model: m, backend: scripted, tools: [clock.now], script: [{ reply: p }] }
  philosopher: { model: m, backend: scripted, script: [{ reply: q }] }
  voice: { kind: voice, model: m, backend: scripted, script: [{ reply: v }] }
tools: { servers: { clock: { builtin: clock }, knowledge: { builtin: knowledge } } }
hosts:
  gpu-a: { roles: [pragmatist, voice] }
  gpu-b: { roles: [philosopher] }
`;

describe("JetStream buckets under the generated users", () => {
  it("the claim-check store: tools parks a result, the calling agent takes it once, an agent without tools cannot", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using tools = await connectAs(auth, "tools", server.url);
    await using agent = await connectAs(auth, "agent-gpu-a", server.url);
    const body = new Uint8Array(300_000).map((_, i) => i % 251);
    const claim = await putClaim(tools, "test", body);
    // A host whose roles have no tool grants has no business in the claims.
    await using stranger = await connectAs(auth, "agent-gpu-b", server.url);
    await expect(takeClaim(stranger, "test", claim.id, claim.sha256)).rejects.toThrow(/could not be fetched/);
    expect(await takeClaim(agent, "test", claim.id, claim.sha256)).toEqual(body);
    await expect(takeClaim(agent, "test", claim.id, claim.sha256)).rejects.toThrow(/gone|could not be fetched/);
  }, 30_000);

  it("a front door reads its own channel's stored replies through a consumer, and not another's", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using core = await connectAs(auth, "core", server.url);
    await ensureStreams(core);
    const js = jetstream(core.nc);
    await js.publish(subjects.outbox("openai", "c1"), "reply for openai");
    await js.publish(subjects.outbox("discord", "c1"), "reply for discord");
    await using serve = await connectAs(auth, "serve", server.url);
    const read = async (channel: string) => {
      const c = await jetstream(serve.nc).consumers.get(StreamName.Outbox, { filter_subjects: subjects.outbox(channel, "c1") });
      const m = await c.next({ expires: 2000 });
      await c.delete().catch(() => undefined);
      return m?.string();
    };
    expect(await read("openai")).toBe("reply for openai");
    await expect(read("discord")).rejects.toThrow(/permission/i);
  }, 30_000);

  it("the knowledge cache: tools writes and reads its KV bucket", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using tools = await connectAs(auth, "tools", server.url);
    const warnings: unknown[] = [];
    const log = { ...silentLogger, warn: (...a: unknown[]) => void warnings.push(a) } as typeof silentLogger;
    const cache = createKvCache(tools.nc, { bucket: "LYRA_TOOL_CACHE", ttlMs: 60_000, log });
    await cache.put("k1", "cached value");
    expect(await cache.get("k1")).toBe("cached value");
    expect(warnings).toEqual([]);
  }, 30_000);
});
