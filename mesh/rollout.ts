/**
 * Rollout and A/B variants of roles: which variant answers a conversation, and the weights that
 * decide it, which `lyra rollout` writes to a KV bucket and every conductor watches.
 *
 * The choice is weighted rendezvous hashing: each answering variant v scores
 * -ln(h(role, conversation, v)) / weight(v), with h a hash into (0, 1), and the lowest score wins.
 * So it needs no state (every replica computes the same), a variant wins with probability
 * weight / sum, and a weight change moves only the conversations it must: raising v's weight only
 * moves conversations to v, lowering it only moves conversations away from v, and the others keep
 * theirs (10 % → 50 % moves 40 % of the conversations, all of them to v, and 50 % → 10 % moves the
 * same ones back). A shadow variant answers a conversation in the background when
 * h(shadow, role, conversation, v) < weight / 100, so the same conversations are shadowed each turn.
 */
import { createHash } from "node:crypto";
import { Kvm, type KV, type KvWatchEntry } from "@nats-io/kv";
import { z } from "zod";
import { weightProblem, type RoleVariant } from "../schemas/index.ts";
import type { Mesh } from "./connect.ts";
import type { Logger } from "./logger.ts";

/** The KV bucket of rollout weights: key = role, value = RolloutRecord (JSON). */
export const ROLLOUT_BUCKET = "LYRA_ROLLOUT";

/** What a variant is to the chooser: its name, whether it is a shadow, its weight (percent). */
export type VariantWeight = Pick<RoleVariant, "name" | "shadow" | "weight">;

/** A role's weights as `lyra rollout` stores them. */
export const RolloutRecord = z.strictObject({
  weights: z.record(z.string(), z.number()),
  /** When they were set, epoch ms. */
  at: z.number().int().nonnegative(),
});
export type RolloutRecord = z.infer<typeof RolloutRecord>;

/** A hash of the parts into (0, 1): 52 bits of SHA-256. */
function unit(...parts: string[]): number {
  const d = createHash("sha256").update(parts.join("\u0000")).digest();
  const n = d.readUInt32BE(0) * 2 ** 20 + (d.readUInt32BE(4) >>> 12);
  return (n + 0.5) / 2 ** 52;
}

/** The answering variant a conversation gets; undefined when no answering variant has weight. */
export function chooseVariant(role: string, conversation: string, variants: readonly VariantWeight[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const v of variants) {
    if (v.shadow || !(v.weight > 0)) continue;
    const score = -Math.log(unit(role, conversation, v.name)) / v.weight;
    if (score < bestScore) [best, bestScore] = [v.name, score];
  }
  return best;
}

/** The shadow variants that also answer this conversation, in the role's order. */
export function shadowsOf(role: string, conversation: string, variants: readonly VariantWeight[]): string[] {
  return variants.filter((v) => v.shadow && unit("shadow", role, conversation, v.name) * 100 < v.weight).map((v) => v.name);
}

/** What a role call of a conversation runs: the answering variant, and the shadows beside it. */
export interface VariantPick {
  variant: string;
  shadows: string[];
}

export interface Rollout {
  /** The pick for a role's call in a conversation; undefined for a role without variants. */
  pick(role: string, conversation: string): VariantPick | undefined;
  /** The weights in force for a role (the bucket's, else the config's), name → percent. */
  weights(role: string): Record<string, number> | undefined;
  /** Stops watching the bucket. */
  close(): void;
}

/** Checks a bucket value against the role's variants; the reason it cannot be used, or the weights. */
export function parseRollout(
  variants: readonly VariantWeight[],
  value: unknown,
): { weights: Record<string, number> } | { problem: string } {
  const r = RolloutRecord.safeParse(value);
  if (!r.success) return { problem: `is not a rollout record (${r.error.issues[0]?.message ?? "invalid"})` };
  const problem = weightProblem(variants, r.data.weights);
  return problem ? { problem } : { weights: r.data.weights };
}

/**
 * The roles' variants with the weights of the config, updated from the rollout bucket as
 * `lyra rollout` changes them. A value that does not fit the role's variants is ignored (with a
 * warning) and the weights before it stay; a deleted key goes back to the config's. When the
 * bucket cannot be watched (no JetStream, no permission) the config's weights stay, with an error
 * in the log.
 */
export async function watchRollout(mesh: Mesh, config: Readonly<Record<string, readonly VariantWeight[]>>, log: Logger): Promise<Rollout> {
  const current = new Map<string, VariantWeight[]>(Object.entries(config).map(([r, vs]) => [r, [...vs]]));
  const apply = (e: KvWatchEntry) => {
    if (!Object.hasOwn(config, e.key)) return;
    const base = config[e.key]!;
    if (e.operation !== "PUT") {
      current.set(e.key, [...base]);
      if (e.isUpdate) log.info({ role: e.key }, "rollout weights back to the config's");
      return;
    }
    let parsed: ReturnType<typeof parseRollout>;
    try {
      parsed = parseRollout(base, e.json());
    } catch {
      parsed = { problem: "is not JSON" };
    }
    if ("problem" in parsed) {
      log.warn({ role: e.key, problem: parsed.problem }, `rollout bucket value for '${e.key}' ignored: it ${parsed.problem}`);
      return;
    }
    current.set(
      e.key,
      base.map((v) => ({ ...v, weight: parsed.weights[v.name]! })),
    );
    log.info({ role: e.key, weights: parsed.weights }, "rollout weights changed");
  };
  let stop: (() => void) | undefined;
  if (current.size) {
    try {
      const kv = await openRolloutBucket(mesh);
      // Read first, so the first turns already have the stored weights; the watch repeats them, then follows.
      for (const role of current.keys()) {
        const e = await kv.get(role);
        if (e) apply(e as KvWatchEntry);
      }
      // The whole bucket (keys of other roles are ignored): one filter, which the conductor's permissions name.
      const watch = await kv.watch();
      stop = () => watch.stop();
      void (async () => {
        for await (const e of watch) apply(e);
      })().catch((err: unknown) => log.error({ err }, "rollout bucket watch stopped; weights stay as they are"));
    } catch (err) {
      log.error({ err, bucket: ROLLOUT_BUCKET }, "cannot watch the rollout bucket; the config's variant weights stay until a restart");
    }
  }
  return {
    pick(role, conversation) {
      const vs = current.get(role);
      const variant = vs && chooseVariant(role, conversation, vs);
      return variant ? { variant, shadows: shadowsOf(role, conversation, vs) } : undefined;
    },
    weights: (role) => {
      const vs = current.get(role);
      return vs && Object.fromEntries(vs.map((v) => [v.name, v.weight]));
    },
    close: () => stop?.(),
  };
}

/** The rollout bucket (created when missing; a few revisions kept, so an operator can see the last changes). */
export function openRolloutBucket(mesh: Mesh): Promise<KV> {
  return new Kvm(mesh.nc).create(ROLLOUT_BUCKET, { history: 10 });
}

/** Stores a role's weights (checked against its variants first); every conductor applies them at once. */
export async function setRollout(
  mesh: Mesh,
  role: string,
  variants: readonly VariantWeight[],
  weights: Record<string, number>,
): Promise<void> {
  const problem = weightProblem(variants, weights);
  if (problem) throw new RangeError(`the weights for role '${role}' ${problem}`);
  const record: RolloutRecord = { weights, at: Date.now() };
  await (await openRolloutBucket(mesh)).put(role, JSON.stringify(record));
}

/** Drops a role's stored weights: the config's apply again. */
export async function clearRollout(mesh: Mesh, role: string): Promise<void> {
  await (await openRolloutBucket(mesh)).delete(role);
}

/** A role's stored weights, or undefined when none (or unusable) are stored. */
export async function storedRollout(mesh: Mesh, role: string, variants: readonly VariantWeight[]): Promise<RolloutRecord | undefined> {
  const e = await (await openRolloutBucket(mesh)).get(role);
  if (!e || e.operation !== "PUT") return undefined;
  try {
    const r = RolloutRecord.parse(e.json());
    return weightProblem(variants, r.weights) ? undefined : r;
  } catch {
    return undefined;
  }
}
