/**
 * Vector helpers for the memory store: Float32 BLOBs, cosine, and a small random-projection sketch
 * that prefilters candidates so a search need not read every full vector (100,000 × 768 floats
 * scanned in JS is ~80 ms; the 64-float sketches are ~5 ms, then only the best are scored exactly).
 */

/** Floats in a sketch. */
export const SKETCH_DIMS = 64;

export function toBlob(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

export function fromBlob(b: Uint8Array): Float32Array {
  // Copied: SQLite's buffer may not be 4-byte aligned.
  const copy = new Uint8Array(b);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
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

export function dot(a: Float32Array, b: Float32Array, bOffset = 0, len = a.length): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += a[i]! * b[bOffset + i]!;
  return s;
}

// One projection matrix per input dimension, from a fixed seed: sketches stay comparable across restarts.
const projections = new Map<number, Int8Array>();
function projection(dims: number): Int8Array {
  let p = projections.get(dims);
  if (!p) {
    p = new Int8Array(dims * SKETCH_DIMS);
    let s = 0x9e3779b9 ^ dims;
    for (let i = 0; i < p.length; i++) {
      // xorshift32: deterministic ±1 entries (Achlioptas-style projection).
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      p[i] = s & 1 ? 1 : -1;
    }
    projections.set(dims, p);
  }
  return p;
}

/** The sketch of a unit vector: its projection on SKETCH_DIMS random ±1 directions, normalized. */
export function sketch(v: Float32Array): Float32Array {
  const p = projection(v.length);
  const out = new Float32Array(SKETCH_DIMS);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x === 0) continue;
    const row = i * SKETCH_DIMS;
    for (let j = 0; j < SKETCH_DIMS; j++) out[j] = out[j]! + p[row + j]! * x;
  }
  return normalize(out);
}
