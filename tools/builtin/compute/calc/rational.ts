/** Exact rationals on BigInt, always in lowest terms with a positive denominator. */
import { ToolsError, ToolsErrorCode } from "../../../errors.ts";

/** Largest numerator kept, in bits: bounds the work and memory of one expression. */
export const MAX_BITS = 40_000;
/**
 * Largest denominator kept, in bits. Reducing a fraction costs a Euclid gcd whose steps grow with
 * the smaller operand's size; at 40,000 bits one sum took seconds of the tool host's event loop.
 */
export const MAX_DEN_BITS = 2_048;

export class CalcError extends ToolsError {
  declare readonly code: typeof ToolsErrorCode.BadExpression;
  constructor(message: string) {
    super(ToolsErrorCode.BadExpression, message);
  }
}

const abs = (a: bigint) => (a < 0n ? -a : a);
export function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

const bitLength = (a: bigint) => (a < 0n ? -a : a).toString(16).length * 4;
/** Largest smaller operand a gcd may take: Euclid's steps grow with it (about 20 ms at this size). */
const MAX_GCD_BITS = 2 * MAX_DEN_BITS;

/** Refuses a gcd whose cost would block the tool host, before doing it. */
export function checkGcd(a: bigint, b: bigint): void {
  if (Math.min(bitLength(a), bitLength(b)) > MAX_GCD_BITS) {
    throw new CalcError(`the numbers are too large to reduce exactly (both over ${MAX_GCD_BITS} bits); use smaller numbers`);
  }
}

export class Q {
  readonly n: bigint;
  readonly d: bigint;
  constructor(n: bigint, d: bigint = 1n) {
    if (d === 0n) throw new CalcError("division by zero");
    if (d < 0n) [n, d] = [-n, -d];
    if (d !== 1n) checkGcd(n, d);
    const g = d === 1n ? 1n : gcd(n, d) || 1n;
    this.n = n / g;
    this.d = d / g;
    if (this.n.toString(16).length * 4 > MAX_BITS) {
      throw new CalcError(
        `a number in the calculation has more than ${MAX_BITS} bits (about ${Math.round(MAX_BITS * 0.30103)} digits); use smaller numbers`,
      );
    }
    if (this.d.toString(16).length * 4 > MAX_DEN_BITS) {
      throw new CalcError(
        `a fraction's denominator has more than ${MAX_DEN_BITS} bits (about ${Math.round(MAX_DEN_BITS * 0.30103)} digits); ` +
          `use smaller numbers`,
      );
    }
  }
  static int(n: number | bigint): Q {
    return new Q(BigInt(n));
  }
  /** "12", "0.1", "1.5e-3", "2E10": exactly. */
  static parse(s: string): Q {
    const m = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
    if (!m || (m[1] === "" && !m[2])) throw new CalcError(`'${s}' is not a number`);
    const frac = m[2] ?? "";
    const exp = Number(m[3] ?? 0) - frac.length;
    if (Math.abs(exp) > 10_000) throw new CalcError(`the exponent of '${s}' is too large (at most 10000)`);
    const digits = BigInt((m[1] || "0") + frac);
    return exp >= 0 ? new Q(digits * 10n ** BigInt(exp)) : new Q(digits, 10n ** BigInt(-exp));
  }
  isInt(): boolean {
    return this.d === 1n;
  }
  isZero(): boolean {
    return this.n === 0n;
  }
  add(o: Q): Q {
    return new Q(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  sub(o: Q): Q {
    return new Q(this.n * o.d - o.n * this.d, this.d * o.d);
  }
  mul(o: Q): Q {
    return new Q(this.n * o.n, this.d * o.d);
  }
  div(o: Q): Q {
    if (o.isZero()) throw new CalcError("division by zero");
    return new Q(this.n * o.d, this.d * o.n);
  }
  neg(): Q {
    return new Q(-this.n, this.d);
  }
  cmp(o: Q): number {
    const x = this.n * o.d - o.n * this.d;
    return x < 0n ? -1 : x > 0n ? 1 : 0;
  }
  floor(): Q {
    const q = this.n / this.d;
    return new Q(this.n < 0n && q * this.d !== this.n ? q - 1n : q);
  }
  /** this ^ e for an integer e, refused before the work when the result would be too large. */
  pow(e: Q): Q {
    if (!e.isInt())
      throw new CalcError("only whole-number exponents are exact; use a whole number (e.g. 2^10), or sqrt() of a perfect square");
    const k = e.n < 0n ? -e.n : e.n;
    const bits = Math.max(this.n.toString(16).length, this.d.toString(16).length) * 4;
    const trivial = this.d === 1n && abs(this.n) <= 1n;
    if (!trivial && BigInt(Math.max(bits - 3, 1)) * k > BigInt(MAX_BITS))
      throw new CalcError(`the power is too large (more than ${MAX_BITS} bits); use a smaller exponent`);
    if (this.isZero() && e.n < 0n) throw new CalcError("division by zero (0 to a negative power)");
    const r = new Q(this.n ** k, this.d ** k);
    return e.n < 0n ? new Q(r.d, r.n) : r;
  }
  /** The exact square root when there is one. */
  sqrt(): Q {
    if (this.n < 0n) throw new CalcError("the square root of a negative number is not real");
    const root = (x: bigint) => {
      if (x < 2n) return x;
      let r = BigInt(Math.floor(Math.sqrt(Number(x))));
      for (;;) {
        const next = (r + x / r) >> 1n;
        if (abs(next - r) <= 1n) {
          let s = next;
          while (s * s > x) s--;
          while ((s + 1n) * (s + 1n) <= x) s++;
          return s;
        }
        r = next;
      }
    };
    const a = root(this.n);
    const b = root(this.d);
    if (a * a !== this.n || b * b !== this.d)
      throw new CalcError(`the square root of ${this.toExact()} is not a rational number, so it cannot be given exactly`);
    return new Q(a, b);
  }
  toExact(): string {
    return this.isInt() ? this.n.toString() : `${this.n}/${this.d}`;
  }
  /** A terminating decimal exactly, else `digits` significant digits with "…". */
  toDecimal(digits = 20): string {
    let d = this.d;
    while (d % 2n === 0n) d /= 2n;
    while (d % 5n === 0n) d /= 5n;
    const sign = this.n < 0n ? "-" : "";
    const n = abs(this.n);
    const intPart = n / this.d;
    let rem = n % this.d;
    if (d === 1n) {
      let frac = "";
      while (rem) {
        rem *= 10n;
        frac += (rem / this.d).toString();
        rem %= this.d;
      }
      return sign + intPart.toString() + (frac ? `.${frac}` : "");
    }
    const intDigits = intPart === 0n ? 0 : intPart.toString().length;
    let frac = "";
    let sig = intDigits;
    while (sig < digits || frac.length === 0) {
      rem *= 10n;
      const digit = rem / this.d;
      rem %= this.d;
      frac += digit.toString();
      if (sig > 0 || digit !== 0n) sig++;
      if (frac.length > 10_000) break;
    }
    return `${sign}${intPart}.${frac}…`;
  }
}
