/** `lyra usage` over a real log: a committee turn and a direct role call through `lyra serve`, priced from the config. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyIdOf } from "../../../agents/frontdoors/openai/access.ts";
import { committeeYaml, runLyra } from "../../harness/committee-fixture.ts";
import { writeTempFile } from "../agents/helpers.ts";
import { KEY, serveFixture, type ServeFixture } from "../frontdoors/serve-helpers.ts";

let fx: ServeFixture;
let config: string;
const tenant = keyIdOf(KEY);

beforeAll(async () => {
  fx = await serveFixture();
  // The scripted roles answer as model scripted:qwen3:4b; a price for it, none for anything else.
  config = writeTempFile(
    `${committeeYaml({ natsUrl: fx.server.url })}\nusage: { prices: { "scripted:qwen3:4b": { input: 1, output: 2 } } }\n`,
  );
  await fx.client.chat.completions.create({ model: "lyra", user: "ann", messages: [{ role: "user", content: "how do I boil an egg" }] });
  await fx.client.chat.completions.create({ model: "lyra/voice", user: "bob", messages: [{ role: "user", content: "say hello" }] });
});

afterAll(() => fx?.[Symbol.asyncDispose]());

interface Row {
  key: string;
  calls: number;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number | null;
  unpriced_tokens: number;
}

async function usageJson(...args: string[]): Promise<{ rows: Row[]; total: Row }> {
  const p = runLyra(["usage", "--nats", fx.server.url, "--config", config, "--json", ...args]);
  expect(await p.exited, p.output()).toBe(0);
  return JSON.parse(p.stdout()) as { rows: Row[]; total: Row };
}

describe("lyra usage", () => {
  it("counts each committee step and the direct call per user, with tokens in and out and their cost", async () => {
    const { rows, total } = await usageJson("--by", "user", "--since", "1h");
    const ann = rows.find((r) => r.key === `${tenant}_ann`)!;
    const bob = rows.find((r) => r.key === `${tenant}_bob`)!;
    expect(ann.calls).toBe(3); // router, specialist, voice
    expect(bob.calls).toBe(1); // the direct lyra/voice call
    for (const r of [ann, bob]) {
      expect(r.tokens_in).toBeGreaterThan(0);
      expect(r.tokens_out).toBeGreaterThan(0);
      expect(r.cost_usd).toBeCloseTo((r.tokens_in * 1 + r.tokens_out * 2) / 1e6, 12);
    }
    expect(total.calls).toBe(4);
  });

  it("groups by role and by model; a model without a price shows its cost as unknown", async () => {
    const byRole = await usageJson("--by", "role");
    expect(byRole.rows.map((r) => r.key).sort()).toEqual(["pragmatist", "router", "voice"]);
    expect(byRole.rows.find((r) => r.key === "voice")!.calls).toBe(2);
    const unpriced = writeTempFile(committeeYaml({ natsUrl: fx.server.url }));
    const p = runLyra(["usage", "--nats", fx.server.url, "--config", unpriced, "--by", "model"]);
    expect(await p.exited, p.output()).toBe(0);
    expect(p.stdout()).toMatch(/^scripted:qwen3:4b\s+4\s+\d+\s+\d+\s+unknown\s+\d+$/m);
  });

  it("refuses a bad --by or --since with the usage (exit 2)", async () => {
    for (const args of [
      ["--by", "colour"],
      ["--since", "yesterday"],
    ]) {
      const p = runLyra(["usage", "--nats", fx.server.url, "--config", config, ...args]);
      expect(await p.exited).toBe(2);
      expect(p.output()).toMatch(args[0] === "--by" ? /--by must be one of user, role/ : /--since must be a duration such as 90m/);
    }
  });
});
