/**
 * Vector helpers for the memory store: Float32 BLOBs, cosine, and a 128-bit SimHash sketch
 * (signs of random projections; Charikar 2002) that prefilters candidates by Hamming distance, so a
 * search need not read every full vector: 100,000 × 768 floats scanned in JS take ~80 ms, their
 * sketches a few ms, and only the best few hundred are then scored exactly.
 */

/** Bits in a sketch. */
export const SKETCH_BITS = 128;
/** 32-bit words in a sketch. */
export const SKETCH_WORDS = SKETCH_BITS / 32;

export function toBlob(v: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Copied: SQLite's buffer may not be 4-byte aligned. */
export function fromBlob(b: Uint8Array): Float32Array {
  const copy = new Uint8Array(b);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

export function sketchFromBlob(b: Uint8Array): Int32Array {
  const copy = new Uint8Array(b);
  return new Int32Array(copy.buffer, 0, copy.byteLength / 4);
}

/** Unit length (a zero vector stays zero), so cosine is a dot product. */
export function normalize(v: ArrayLike<number>): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  const out = new Float32Array(v.length);
  const k = n > 0 ? 1 / Math.sqrt(n) : 0;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * k;
  return out;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// One projection matrix per input dimension, from a fixed seed: sketches stay comparable across restarts.
const projections = new Map<number, Int8Array>();
function projection(dims: number): Int8Array {
  let p = projections.get(dims);
  if (!p) {
    p = new Int8Array(dims * SKETCH_BITS);
    let s = 0x9e3779b9 ^ dims;
    for (let i = 0; i < p.length; i++) {
      // xorshift32: deterministic ±1 entries.
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      p[i] = s & 1 ? 1 : -1;
    }
    projections.set(dims, p);
  }
  return p;
}

/** The SimHash of a vector: bit j set when its projection on random direction j is positive. */
export function sketch(v: Float32Array): Int32Array {
  const p = projection(v.length);
  const acc = new Float64Array(SKETCH_BITS);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x === 0) continue;
    const row = i * SKETCH_BITS;
    for (let j = 0; j < SKETCH_BITS; j++) acc[j] = acc[j]! + p[row + j]! * x;
  }
  const out = new Int32Array(SKETCH_WORDS);
  for (let j = 0; j < SKETCH_BITS; j++) if (acc[j]! > 0) out[j >> 5] = out[j >> 5]! | (1 << (j & 31));
  return out;
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
