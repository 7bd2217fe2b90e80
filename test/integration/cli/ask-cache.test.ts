/**
 * `lyra ask` and the response cache (every role of the scripted committee caches): the same first
 * message in a new conversation is answered by cached steps, which the summary under the reply
 * says; `--no-cache` answers afresh, and the log says the steps bypassed the cache.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { committeeConfig, runLyra } from "../../harness/committee-fixture.ts";
import { startCommitteeFixture, type CommitteeFixture } from "../../harness/conductor.ts";
import { logOf } from "../conductor/helpers.ts";

let fx: CommitteeFixture;

beforeAll(async () => {
  fx = await startCommitteeFixture({
    config: (natsUrl) => committeeConfig({ natsUrl, cache: "{ ttl_s: 600 }" }),
    conductor: { ackWaitMs: 5000 },
  });
});

afterAll(() => fx?.[Symbol.asyncDispose]());

const ask = async (...args: string[]) => {
  const p = runLyra(["ask", "--nats", fx.server.url, ...args]);
  expect(await p.exited, p.output()).toBe(0);
  return p.output();
};

describe("lyra ask with the response cache", () => {
  it("says which steps came from the cache, and --no-cache bypasses it", async () => {
    const text = "How do I water a cactus?";
    expect(await ask("--conversation", "cache-a", text)).not.toMatch(/cache hit/);
    expect(await ask("--conversation", "cache-b", text)).toMatch(/pragmatist .*\(cache hit, exact\)/);
    expect(await ask("--conversation", "cache-c", "--no-cache", text)).not.toMatch(/cache hit/);
    const steps = (await logOf(fx.mesh, "cache-c")).filter((e) => e.type === "routed" || e.type === "specialist_finished");
    expect(steps.map((e) => (e as { cache?: string }).cache)).toEqual(["bypass", "bypass"]);
  }, 60_000);
});
