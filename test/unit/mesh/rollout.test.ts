/** The variant chooser: weights honoured, sticky conversations, weight changes that move only what they must. */
import { describe, expect, it } from "vitest";
import { chooseVariant, parseRollout, shadowsOf, type VariantWeight } from "../../../mesh/rollout.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";

const N = 4000;
const ids = Array.from({ length: N }, (_, i) => `conv${i}`);
const set = (a: number, b: number, shadow = 0): VariantWeight[] => [
  { name: "control", weight: a, shadow: false },
  { name: "candidate", weight: b, shadow: false },
  { name: "shadowy", weight: shadow, shadow: true },
];
const assign = (vs: VariantWeight[]) => ids.map((c) => chooseVariant("pragmatist", c, vs));
const count = (xs: (string | undefined)[], v: string) => xs.filter((x) => x === v).length;
/** 4.5 standard deviations of a binomial count: a correct chooser misses it about once in 150,000 runs. */
const tolerance = (p: number) => 4.5 * Math.sqrt(N * p * (1 - p));

describe("chooseVariant", () => {
  it.each([10, 50, 90])(`gives a variant of weight %i %% its share of ${N} conversations, within the binomial tolerance`, (pct) => {
    const got = count(assign(set(100 - pct, pct)), "candidate");
    expect(Math.abs(got - (N * pct) / 100)).toBeLessThanOrEqual(tolerance(pct / 100));
  });

  it("keeps a conversation's variant: the same answer every time, for every replica", () => {
    expect(assign(set(50, 50))).toEqual(assign(set(50, 50)));
  });

  it("10 % → 50 % → 100 % moves only conversations to the candidate, and the way back moves the same ones back", () => {
    const at10 = assign(set(90, 10));
    const at50 = assign(set(50, 50));
    const at100 = assign(set(0, 100));
    for (let i = 0; i < N; i++) {
      if (at10[i] === "candidate") expect(at50[i]).toBe("candidate");
      if (at50[i] === "candidate") expect(at100[i]).toBe("candidate");
    }
    expect(at100.every((v) => v === "candidate")).toBe(true);
    // Only the conversations it must: 40 % of them change from 10 % to 50 %.
    const moved = at10.filter((v, i) => v !== at50[i]).length;
    expect(Math.abs(moved - 0.4 * N)).toBeLessThanOrEqual(tolerance(0.4));
    expect(assign(set(90, 10))).toEqual(at10);
  });

  it("a third variant added with 20 % takes conversations from the others and moves none between them", () => {
    const two = assign(set(50, 50));
    const three = ids.map((c) => chooseVariant("pragmatist", c, [...set(40, 40), { name: "third", weight: 20, shadow: false }]));
    for (let i = 0; i < N; i++) if (three[i] !== "third") expect(three[i]).toBe(two[i]);
    expect(Math.abs(count(three, "third") - 0.2 * N)).toBeLessThanOrEqual(tolerance(0.2));
  });

  it("never gives a shadow or a variant of weight 0; the choice depends on the role too", () => {
    const got = assign(set(100, 0, 100));
    expect(got.every((v) => v === "control")).toBe(true);
    const other = ids.map((c) => chooseVariant("voice", c, set(50, 50)));
    expect(other).not.toEqual(assign(set(50, 50)));
  });
});

describe("shadowsOf", () => {
  it("shadows its weight's share of the conversations, the same ones every turn", () => {
    const vs = set(50, 50, 25);
    const shadowed = ids.filter((c) => shadowsOf("pragmatist", c, vs).includes("shadowy"));
    expect(Math.abs(shadowed.length - 0.25 * N)).toBeLessThanOrEqual(tolerance(0.25));
    expect(ids.filter((c) => shadowsOf("pragmatist", c, vs).length)).toEqual(shadowed);
    expect(ids.some((c) => shadowsOf("pragmatist", c, set(50, 50, 0)).length)).toBe(false);
  });
});

describe("rollout weights are validated", () => {
  const vs = set(90, 10, 5);
  it.each([
    [{ control: 50, candidate: 40, shadowy: 5 }, /add up to 90, not 100/],
    [{ control: 50, candidate: 50 }, /no weight for shadowy/],
    [{ control: 50, candidate: 50, shadowy: 5, other: 1 }, /unknown variant\(s\) other/],
    [{ control: 150, candidate: -50, shadowy: 0 }, /out of 0-100: control=150, candidate=-50/],
  ])("refuses %j", (weights, why) => {
    expect(parseRollout(vs, { weights, at: 1 })).toEqual({ problem: expect.stringMatching(why) as string });
  });
  it("takes weights that fit, and refuses a record of another shape", () => {
    expect(parseRollout(vs, { weights: { control: 50, candidate: 50, shadowy: 100 }, at: 1 })).toEqual({
      weights: { control: 50, candidate: 50, shadowy: 100 },
    });
    expect(parseRollout(vs, { control: 50 })).toHaveProperty("problem");
  });

  const yaml = (variants: string) => `
mesh: { name: t, owner: o }
roles:
  pragmatist:
    model: m
    variants: ${variants}
hosts: { h: { roles: [pragmatist] } }
`;
  it("in the config: names once each, answering weights adding up to 100, a backend the config has", () => {
    const cfg = parseMeshConfig(
      yaml("[{ name: a, weight: 90 }, { name: b, weight: 10, model: m2 }, { name: s, weight: 5, shadow: true }]"),
    );
    expect(cfg.roles.pragmatist!.variants).toHaveLength(3);
    expect(() => parseMeshConfig(yaml("[{ name: a, weight: 90 }, { name: b, weight: 20 }]"))).toThrow(/add up to 110, not 100/);
    expect(() => parseMeshConfig(yaml("[{ name: a, weight: 50 }, { name: a, weight: 50 }]"))).toThrow(/is 'a' again/);
    expect(() => parseMeshConfig(yaml("[{ name: a, weight: 100, backend: openai }]"))).toThrow(/no litellm section/);
    expect(() => parseMeshConfig(yaml("[{ name: A!, weight: 100 }]"))).toThrow(/variants\[0\]\.name/);
  });
});
