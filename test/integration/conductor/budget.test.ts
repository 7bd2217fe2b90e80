/** Per-user daily budgets: checked when a message enters, totals in a KV bucket shared by the conductor's replicas. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { openBudgets, type BudgetOptions } from "../../../mesh/conductor/index.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { scriptedBackends, startCommitteeFixture, type CommitteeFixture } from "../../harness/conductor.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { askTurn, logOf, newId } from "./helpers.ts";

let fx: CommitteeFixture;
/** The conductor's clock: noon UTC on 4 December 2026, moved to the next day by a test. */
let now = Date.UTC(2026, 11, 4, 12);
const budget: BudgetOptions = {
  // ann may spend 1 token a day (her first turn spends more); bob has no budget.
  limitsOf: (user) => (user === "ann" ? { tokens: 1 } : undefined),
  prices: {},
  now: () => now,
};

beforeAll(async () => {
  fx = await startCommitteeFixture({ config: (natsUrl) => committeeConfig({ natsUrl }), conductor: { budget } });
});
afterAll(() => fx?.[Symbol.asyncDispose]());

/** Whether any role's model was given `text`. */
const modelSaw = (text: string) =>
  [...scriptedBackends(fx.host).values()].some((b) => b.requests.some((r) => r.messages.some((m) => m.content.includes(text))));

describe("per-user daily budgets", () => {
  it("over budget: the budget reply through the outbox, no model call, the message logged; another user unaffected", async () => {
    const conv = newId("c");
    const first = await askTurn(fx.mesh, conv, "how do I boil an egg", newId(), "ann");
    expect(first.error).toBeUndefined();
    expect(first.text).toContain("Lyra says");

    const refused = await askTurn(fx.mesh, conv, "and a goose egg?", newId(), "ann");
    expect(refused.text).toMatch(/daily budget is spent \(\d+ of 1 tokens today\); it resets at 2026-12-05 00:00 UTC/);
    expect(refused.error).toMatch(/daily budget is spent/);
    expect(modelSaw("goose egg")).toBe(false);
    const log = await logOf(fx.mesh, conv);
    const turn = log.filter((e) => e.turn === refused.in_reply_to);
    expect(turn.map((e) => e.type)).toEqual(["user_message", "error"]);
    expect(turn[1]).toMatchObject({ code: "budget_spent" });

    const bob = await askTurn(fx.mesh, newId("c"), "how do I fry an egg", newId(), "bob");
    expect(bob.error).toBeUndefined();
    expect(modelSaw("fry an egg")).toBe(true);
  });

  it("the next day (UTC) the user's budget is fresh", async () => {
    now = Date.UTC(2026, 11, 5, 0, 1);
    const next = await askTurn(fx.mesh, newId("c"), "how do I poach an egg", newId(), "ann");
    expect(next.error).toBeUndefined();
    expect(modelSaw("poach an egg")).toBe(true);
  });
});

describe("the per-day totals", () => {
  it("add up when two replicas update one user's day at once (compare-and-set on the revision)", async () => {
    await using server = await startNatsServer();
    await using a = await connectMesh({ servers: server.url });
    await using b = await connectMesh({ servers: server.url });
    const o: BudgetOptions = { limitsOf: () => ({ usd: 1 }), prices: { m: { input: 1, output: 1 } }, bucket: "USAGE_CAS" };
    const [ra, rb] = await Promise.all([openBudgets(a, o), openBudgets(b, o)]);
    const call = { model: "m", tokensIn: 3, tokensOut: 2 };
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? ra : rb).add("carol", [call])));
    const t = await ra.today("carol");
    expect({ ...t, usd: undefined }).toEqual({ tokens_in: 90, tokens_out: 60, usd: undefined, turns: 30 });
    expect(t.usd).toBeCloseTo(150 / 1e6, 12);
    expect(await rb.check("carol")).toBeUndefined();
  });
});
