/**
 * `calculate`: a small recursive-descent parser over exact rationals with units. No code runs:
 * the grammar has numbers, units, + - * / // % ^ (or **), !, parentheses, a few functions, and a
 * final `to <unit>` (or `in`, `as`) conversion.
 */
import { CalcError, checkGcd, Q } from "./rational.ts";
import { DIMENSIONLESS, formatDims, isDimensionless, mulDims, sameDims, unit, UNITS, type Dims } from "./units.ts";

export { CalcError } from "./rational.ts";

export const MAX_EXPRESSION_CHARS = 1000;
const MAX_DEPTH = 64;
const MAX_FACTORIAL = 3000n;
const KEYWORDS = new Set(["to", "in", "as"]);

interface Val {
  v: Q; // in SI units
  dims: Dims;
  /** The unit to show it in (the one it was written in). */
  label?: { name: string; factor: Q };
  /** Written in °C or °F: only a conversion may follow. */
  affine?: boolean;
}

type Tok = { t: "num" | "id" | "op"; s: string; at: number };

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  const re = /\s+|(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-zµ°_][A-Za-z0-9µ°_]*)|(\*\*|\/\/|->|[-+*/^%(),!])/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < src.length) {
    const at = re.lastIndex;
    m = re.exec(src);
    if (!m) throw new CalcError(`unexpected '${src[at]}' at position ${at + 1}; use numbers, units, + - * / // % ^ ! ( ) and 'to UNIT'`);
    if (m[1]) toks.push({ t: "num", s: m[1], at });
    else if (m[2]) toks.push({ t: "id", s: m[2], at });
    else if (m[3]) toks.push({ t: "op", s: m[3] === "->" ? "to" : m[3], at });
  }
  return toks;
}

const plain = (v: Q): Val => ({ v, dims: DIMENSIONLESS });

function noAffine(...xs: Val[]): void {
  if (xs.some((x) => x.affine))
    throw new CalcError("°C and °F convert only as plain temperatures (e.g. '20 degC to degF'); for temperature differences use K");
}

function requireInt(x: Val, what: string): bigint {
  if (!isDimensionless(x.dims) || !x.v.isInt()) throw new CalcError(`${what} needs a whole number without a unit, got ${show(x)}`);
  return x.v.n;
}

const FUNCS: Record<string, (args: Val[]) => Val> = {
  abs: ([x]) => ({ ...x!, v: x!.v.cmp(Q.int(0)) < 0 ? x!.v.neg() : x!.v }),
  floor: ([x]) => plain(dimless(x!, "floor").floor()),
  ceil: ([x]) => plain(dimless(x!, "ceil").neg().floor().neg()),
  round: ([x]) => {
    const v = dimless(x!, "round");
    const half = new Q(1n, 2n);
    return plain(v.cmp(Q.int(0)) < 0 ? v.neg().add(half).floor().neg() : v.add(half).floor());
  },
  sqrt: ([x]) => plain(dimless(x!, "sqrt").sqrt()),
  gcd: (xs) => plain(new Q(xs.map((x) => requireInt(x, "gcd")).reduce((a, b) => gcdBig(a, b)))),
  lcm: (xs) => plain(new Q(xs.map((x) => requireInt(x, "lcm")).reduce((a, b) => (a === 0n || b === 0n ? 0n : abs(a * b) / gcdBig(a, b))))),
  min: (xs) => pick(xs, -1),
  max: (xs) => pick(xs, 1),
};
const abs = (a: bigint) => (a < 0n ? -a : a);
function gcdBig(a: bigint, b: bigint): bigint {
  checkGcd(a, b);
  a = abs(a);
  b = abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}
function dimless(x: Val, f: string): Q {
  if (!isDimensionless(x.dims)) throw new CalcError(`${f}() takes a number without a unit; convert first (e.g. ${f}(x to m))`);
  return x.v;
}
function pick(xs: Val[], sign: number): Val {
  noAffine(...xs);
  for (const x of xs) if (!sameDims(x.dims, xs[0]!.dims)) throw new CalcError("min() and max() need values of the same kind of unit");
  return xs.reduce((a, b) => (b.v.cmp(a.v) === sign ? b : a));
}

class Parser {
  private i = 0;
  private depth = 0;
  private readonly toks: Tok[];
  constructor(toks: Tok[]) {
    this.toks = toks;
  }
  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private isOp(s: string): boolean {
    const t = this.peek();
    return t !== undefined && t.t !== "num" && t.s === s;
  }
  private expect(s: string): void {
    if (!this.isOp(s)) throw new CalcError(`expected '${s}' ${this.where()}`);
    this.i++;
  }
  private where(): string {
    const t = this.peek();
    return t ? `at position ${t.at + 1} (found '${t.s}')` : "at the end of the expression";
  }
  top(): { value: Val; target?: { name: string; val: Val } } {
    if (!this.toks.length) throw new CalcError("the expression is empty; write something like '2^64' or '5 km to mi'");
    const value = this.expr();
    let target;
    if (this.peek() && (this.isOp("to") || (this.peek()!.t === "id" && KEYWORDS.has(this.peek()!.s)))) {
      this.i++;
      const start = this.peek();
      if (!start) throw new CalcError("'to' needs a unit after it, e.g. '5 km to mi'");
      const val = this.expr();
      const end = this.toks[this.i - 1]!;
      if (
        this.toks
          .slice(this.toks.indexOf(start), this.i)
          .some((t) => t.t === "num" && !this.toks[this.toks.indexOf(t) - 1]?.s.match(/^(\^|\*\*)$/))
      ) {
        throw new CalcError("after 'to' give only a unit, e.g. '5 km to mi' or '1 km/h to m/s'");
      }
      target = {
        name: this.toks
          .slice(this.toks.indexOf(start), this.toks.indexOf(end) + 1)
          .map((t) => t.s)
          .join(""),
        val,
      };
    }
    if (this.peek()) throw new CalcError(`unexpected '${this.peek()!.s}' ${this.where()}`);
    return { value, target };
  }
  private nest<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new CalcError(`the expression nests deeper than ${MAX_DEPTH} levels`);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }
  private expr(): Val {
    return this.nest(() => {
      let a = this.term();
      while (this.isOp("+") || this.isOp("-")) {
        const op = this.toks[this.i++]!.s;
        const b = this.term();
        noAffine(a, b);
        if (!sameDims(a.dims, b.dims))
          throw new CalcError(
            `cannot ${op === "+" ? "add" : "subtract"} ${formatDims(b.dims) || "a plain number"} ` +
              `${op === "+" ? "to" : "from"} ${formatDims(a.dims) || "a plain number"}`,
          );
        a = { v: op === "+" ? a.v.add(b.v) : a.v.sub(b.v), dims: a.dims, label: a.label };
      }
      return a;
    });
  }
  private term(): Val {
    let a = this.unary();
    while (["*", "/", "//", "%"].some((s) => this.isOp(s)) || this.isOp("mod")) {
      const op = this.toks[this.i++]!.s;
      const b = this.unary();
      noAffine(a, b);
      if (op === "*" || op === "/") {
        const label = isDimensionless(b.dims) ? a.label : isDimensionless(a.dims) && op === "*" ? b.label : undefined;
        a = { v: op === "*" ? a.v.mul(b.v) : a.v.div(b.v), dims: mulDims(a.dims, b.dims, op === "*" ? 1 : -1), label };
      } else {
        if (!sameDims(a.dims, b.dims)) throw new CalcError(`'${op}' needs both sides in the same kind of unit`);
        const q = a.v.div(b.v).floor();
        a = op === "//" ? plain(q) : { v: a.v.sub(b.v.mul(q)), dims: a.dims, label: a.label };
      }
    }
    return a;
  }
  private unary(): Val {
    const [, num, id] = this.toks.slice(this.i, this.i + 3);
    if (this.isOp("-") && num?.t === "num" && id?.t === "id" && UNITS.get(id.s)?.offset) {
      // "-40 degF": the sign belongs to the temperature, before its offset.
      this.i++;
      return this.primary(true);
    }
    if (this.isOp("-") || this.isOp("+")) {
      const neg = this.toks[this.i++]!.s === "-";
      const x = this.nest(() => this.unary());
      noAffine(x);
      return neg ? { ...x, v: x.v.neg() } : x;
    }
    return this.power();
  }
  private power(): Val {
    const base = this.postfix();
    if (!this.isOp("^") && !this.isOp("**")) return base;
    this.i++;
    const e = this.nest(() => this.unary());
    noAffine(base, e);
    if (!isDimensionless(e.dims)) throw new CalcError("an exponent cannot have a unit");
    if (!isDimensionless(base.dims) && (!e.v.isInt() || e.v.n > 12n || e.v.n < -12n))
      throw new CalcError("a unit can be raised only to a small whole power (e.g. m^2)");
    return { v: base.v.pow(e.v), dims: base.dims.map((x) => x * Number(e.v.n)), label: undefined };
  }
  private postfix(): Val {
    let x = this.primary();
    while (this.isOp("!")) {
      this.i++;
      const n = requireInt(x, "factorial (!)");
      if (n < 0n || n > MAX_FACTORIAL) throw new CalcError(`factorial needs a whole number from 0 to ${MAX_FACTORIAL}, got ${n}`);
      let r = 1n;
      for (let k = 2n; k <= n; k++) r *= k;
      x = plain(new Q(r));
    }
    return x;
  }
  private primary(negate = false): Val {
    const t = this.peek();
    if (!t) throw new CalcError(`a number is missing ${this.where()}`);
    if (t.t === "num") {
      this.i++;
      const n = plain(negate ? Q.parse(t.s).neg() : Q.parse(t.s));
      const next = this.peek();
      // "5 km", "3 m^2": a number directly followed by a unit.
      if (next?.t === "id" && !KEYWORDS.has(next.s) && !(next.s in FUNCS)) {
        const u = this.power();
        if (u.affine) return { ...u, v: n.v.mul(UNITS.get(u.label!.name)!.factor).add(UNITS.get(u.label!.name)!.offset!) };
        return { v: n.v.mul(u.v), dims: u.dims, label: u.label };
      }
      return n;
    }
    if (t.s === "(") {
      this.i++;
      const x = this.expr();
      this.expect(")");
      return x;
    }
    if (t.t === "id" && !KEYWORDS.has(t.s)) {
      this.i++;
      const f = FUNCS[t.s];
      if (f) {
        this.expect("(");
        const args = [this.expr()];
        while (this.isOp(",")) {
          this.i++;
          args.push(this.expr());
        }
        this.expect(")");
        const single = ["abs", "floor", "ceil", "round", "sqrt"].includes(t.s);
        if (single && args.length !== 1) throw new CalcError(`${t.s}() takes one argument, got ${args.length}`);
        if (!single && args.length < 2) throw new CalcError(`${t.s}() takes two or more arguments`);
        return f(args);
      }
      const u = unit(t.s);
      if (u.offset) return { v: u.offset, dims: u.dims, label: { name: t.s, factor: u.factor }, affine: true };
      return { v: u.factor, dims: u.dims, label: { name: t.s, factor: u.factor } };
    }
    throw new CalcError(`unexpected '${t.s}' ${this.where()}`);
  }
}

function showQ(v: Q): string {
  if (v.isInt()) return v.toExact();
  const dec = v.toDecimal();
  return dec.endsWith("…") ? `${v.toExact()} ≈ ${dec}` : `${dec} (= ${v.toExact()})`;
}

function show(x: Val): string {
  if (isDimensionless(x.dims)) return showQ(x.v);
  if (x.label)
    return `${showQ(x.affine ? x.v.sub(UNITS.get(x.label.name)!.offset!).div(x.label.factor) : x.v.div(x.label.factor))} ${x.label.name}`;
  return `${showQ(x.v)} ${formatDims(x.dims)}`;
}

/** Evaluates an expression exactly; throws CalcError with a message that says what to fix. */
export function calculate(src: string): string {
  if (src.length > MAX_EXPRESSION_CHARS) throw new CalcError(`the expression is longer than ${MAX_EXPRESSION_CHARS} characters`);
  const { value, target } = new Parser(tokenize(src)).top();
  if (!target) return show(value);
  const to = target.val;
  if (!sameDims(value.dims, to.dims)) {
    throw new CalcError(
      `cannot convert ${formatDims(value.dims) || "a plain number"} to '${target.name}' (${formatDims(to.dims) || "a plain number"}); ` +
        `the units must measure the same thing`,
    );
  }
  if (to.affine) {
    const u = UNITS.get(target.name);
    if (!u?.offset) throw new CalcError("convert to °C or °F as a plain unit, e.g. '20 degC to degF'");
    return `${showQ(value.v.sub(u.offset).div(u.factor))} ${target.name}`;
  }
  return `${showQ(value.v.div(to.v))} ${target.name}`;
}
