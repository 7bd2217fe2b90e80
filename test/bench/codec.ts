/**
 * Codec: what one message costs in CPU, msgpack and JSON, for a role request with five turns of
 * history (~4 KB) and for a streaming response chunk. One "hop" is what the two ends do:
 * the sender validates and encodes, the receiver decodes and validates (schemas/codec.ts).
 */
import { Chunk, contentTypeOf, decode, encode, Encoding, RoleRequest, validate, type ChatMessage } from "../../schemas/index.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, round } from "./stats.ts";

type Op = "encode" | "decode" | "validate" | "hop";
const OPS: Op[] = ["encode", "decode", "validate", "hop"];

/** ~400 characters of English-ish text, deterministic. */
function sentence(seed: number, chars: number): string {
  const words = [
    "the",
    "basil",
    "needs",
    "water",
    "when",
    "soil",
    "feels",
    "dry",
    "light",
    "morning",
    "leaves",
    "pinch",
    "grow",
    "pot",
    "window",
    "warm",
  ];
  let s = "";
  for (let i = 0; s.length < chars; i++) s += `${words[(seed * 7 + i * 3) % words.length]} `;
  return s.trimEnd();
}

export function sampleRequest(): RoleRequest {
  const messages: ChatMessage[] = [];
  for (let t = 0; t < 5; t++) {
    messages.push({ role: "user", content: sentence(t, 300) });
    messages.push({ role: "assistant", content: sentence(t + 11, 460) });
  }
  messages.push({ role: "user", content: "And how often should I water it in winter?" });
  return { conversation: "c0123456789ab", messages, options: { temperature: 0.7 } };
}

const sampleChunk: Chunk = { type: "response", data: "water " };

const ROUNDS = 3;

/** Runs `fn` for about `ms` and returns µs per call. */
function timeOp(fn: () => unknown, ms: number): { usPerOp: number; ops: number } {
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 200; i++) fn();
    ops += 200;
    t = performance.now();
  }
  return { usPerOp: ((t - t0) * 1000) / ops, ops };
}

export async function codec(ctx: BenchContext): Promise<SectionResult> {
  const ms = ctx.quick ? 150 : 600;
  const cases = [
    { what: "role request (5 turns)", schema: RoleRequest, value: sampleRequest() as unknown },
    { what: "response chunk", schema: Chunk, value: sampleChunk as unknown },
  ];
  const rows = [["message", "encoding", "bytes", ...OPS.map((o) => `${o} µs`), "hop ops/s"]];
  const json: Record<string, unknown> = {};
  for (const c of cases) {
    for (const enc of [Encoding.Msgpack, Encoding.Json]) {
      ctx.progress(`codec: ${c.what}, ${enc}`);
      const ct = contentTypeOf(enc);
      const bytes = encode(c.value, enc);
      const fns: Record<Op, () => unknown> = {
        encode: () => encode(c.value, enc),
        decode: () => decode(bytes, ct),
        validate: () => validate(c.schema, c.value, "bench"),
        hop: () => validate(c.schema, decode(encode(validate(c.schema, c.value, "bench"), enc), ct).value, "bench"),
      };
      // Warm every op up first, then time them in interleaved rounds; the median round counts.
      for (const o of OPS) timeOp(fns[o], 100);
      const rounds = Object.fromEntries(OPS.map((o) => [o, [] as { usPerOp: number; ops: number }[]])) as Record<
        Op,
        { usPerOp: number; ops: number }[]
      >;
      for (let i = 0; i < ROUNDS; i++) for (const o of OPS) rounds[o].push(timeOp(fns[o], ms / ROUNDS));
      const r = Object.fromEntries(
        OPS.map((o) => {
          const sorted = [...rounds[o]].sort((a, b) => a.usPerOp - b.usPerOp);
          return [o, { usPerOp: sorted[Math.floor(ROUNDS / 2)]!.usPerOp, ops: rounds[o].reduce((a, x) => a + x.ops, 0) }];
        }),
      ) as Record<Op, { usPerOp: number; ops: number }>;
      const hopOps = 1e6 / r.hop.usPerOp;
      rows.push([c.what, enc, String(bytes.length), ...OPS.map((o) => fmt(r[o].usPerOp)), fmt(hopOps)]);
      json[`${c.what === "response chunk" ? "chunk" : "request"}_${enc}`] = {
        bytes: bytes.length,
        ...Object.fromEntries(OPS.map((o) => [`${o}_us`, round(r[o].usPerOp)])),
        hop_ops_per_s: Math.round(hopOps),
        n_hop: r.hop.ops,
      };
    }
  }
  return {
    name: "codec",
    title: "3. Codec (µs per message; hop = validate + encode + decode + validate)",
    table: rows,
    notes: [
      `each op warmed up, then timed in ${ROUNDS} interleaved rounds of ${fmt(ms / ROUNDS)} ms (median round); ` +
        `validate = zod safeParse of the schema`,
    ],
    json,
    targets: [],
  };
}
