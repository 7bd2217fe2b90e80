/**
 * Units for `calculate`: each is an exact factor to SI and a dimension vector (length, mass,
 * time, current, temperature, information). Factors are the exact definitions (1 inch = 0.0254 m,
 * 1 lb = 0.45359237 kg, 1 eV = 1.602176634e-19 J). Celsius and Fahrenheit are affine: they
 * convert only as plain temperatures.
 */
import { CalcError, Q } from "./rational.ts";

export type Dims = readonly number[];
export const DIMENSIONLESS: Dims = [0, 0, 0, 0, 0, 0];
const BASE = ["m", "kg", "s", "A", "K", "bit"];

export interface Unit {
  factor: Q;
  dims: Dims;
  /** Affine units (°C, °F): kelvin = value * factor + offset. */
  offset?: Q;
}

const q = (s: string) => Q.parse(s);
const d = (...v: number[]): Dims => v;
const L = d(1, 0, 0, 0, 0, 0),
  M = d(0, 1, 0, 0, 0, 0),
  T = d(0, 0, 1, 0, 0, 0);
const AREA = d(2, 0, 0, 0, 0, 0),
  VOL = d(3, 0, 0, 0, 0, 0),
  FORCE = d(1, 1, -2, 0, 0, 0),
  ENERGY = d(2, 1, -2, 0, 0, 0);
const POWER = d(2, 1, -3, 0, 0, 0),
  PRESSURE = d(-1, 1, -2, 0, 0, 0),
  INFO = d(0, 0, 0, 0, 0, 1),
  TEMP = d(0, 0, 0, 0, 1, 0);

const table: [string[], string, Dims, string?][] = [
  [["m", "meter", "meters", "metre", "metres"], "1", L],
  [["km"], "1000", L],
  [["cm"], "0.01", L],
  [["mm"], "0.001", L],
  [["um", "µm"], "1e-6", L],
  [["nm"], "1e-9", L],
  [["mi", "mile", "miles"], "1609.344", L],
  [["yd", "yard", "yards"], "0.9144", L],
  [["ft", "foot", "feet"], "0.3048", L],
  [["inch", "inches"], "0.0254", L],
  [["nmi"], "1852", L],
  [["au"], "149597870700", L],
  [["ly"], "9460730472580800", L],
  [["g", "gram", "grams"], "0.001", M],
  [["kg"], "1", M],
  [["mg"], "1e-6", M],
  [["t", "tonne", "tonnes"], "1000", M],
  [["lb", "lbs", "pound", "pounds"], "0.45359237", M],
  [["oz", "ounce", "ounces"], "0.028349523125", M],
  [["st", "stone"], "6.35029318", M],
  [["s", "sec", "second", "seconds"], "1", T],
  [["ms"], "0.001", T],
  [["us", "µs"], "1e-6", T],
  [["ns"], "1e-9", T],
  [["min", "minute", "minutes"], "60", T],
  [["h", "hr", "hour", "hours"], "3600", T],
  [["day", "days"], "86400", T],
  [["week", "weeks"], "604800", T],
  [["year", "years", "yr"], "31557600", T],
  [["ha", "hectare", "hectares"], "10000", AREA],
  [["acre", "acres"], "4046.8564224", AREA],
  [["l", "L", "liter", "liters", "litre", "litres"], "0.001", VOL],
  [["ml", "mL"], "1e-6", VOL],
  [["gal", "gallon", "gallons"], "0.003785411784", VOL],
  [["floz"], "0.0000295735295625", VOL],
  [["N", "newton", "newtons"], "1", FORCE],
  [["lbf"], "4.4482216152605", FORCE],
  [["J", "joule", "joules"], "1", ENERGY],
  [["kJ"], "1000", ENERGY],
  [["MJ"], "1e6", ENERGY],
  [["cal"], "4.184", ENERGY],
  [["kcal"], "4184", ENERGY],
  [["Wh"], "3600", ENERGY],
  [["kWh"], "3600000", ENERGY],
  [["eV"], "1.602176634e-19", ENERGY],
  [["W", "watt", "watts"], "1", POWER],
  [["kW"], "1000", POWER],
  [["MW"], "1e6", POWER],
  [["hp"], "745.69987158227022", POWER],
  [["Pa"], "1", PRESSURE],
  [["kPa"], "1000", PRESSURE],
  [["bar"], "100000", PRESSURE],
  [["atm"], "101325", PRESSURE],
  [["Hz"], "1", d(0, 0, -1, 0, 0, 0)],
  [["kHz"], "1000", d(0, 0, -1, 0, 0, 0)],
  [["MHz"], "1e6", d(0, 0, -1, 0, 0, 0)],
  [["GHz"], "1e9", d(0, 0, -1, 0, 0, 0)],
  [["A", "amp", "amps"], "1", d(0, 0, 0, 1, 0, 0)],
  [["V", "volt", "volts"], "1", d(2, 1, -3, -1, 0, 0)],
  [["K", "kelvin"], "1", TEMP],
  [["bit", "bits"], "1", INFO],
  [["B", "byte", "bytes"], "8", INFO],
  [["kB"], "8000", INFO],
  [["MB"], "8e6", INFO],
  [["GB"], "8e9", INFO],
  [["TB"], "8e12", INFO],
  [["KiB"], "8192", INFO],
  [["MiB"], "8388608", INFO],
  [["GiB"], "8589934592", INFO],
  [["TiB"], "8796093022208", INFO],
];

export const UNITS = new Map<string, Unit>();
for (const [names, factor, dims] of table) for (const n of names) UNITS.set(n, { factor: q(factor), dims });
for (const n of ["degC", "°C", "celsius"]) UNITS.set(n, { factor: Q.int(1), dims: TEMP, offset: q("273.15") });
for (const n of ["degF", "°F", "fahrenheit"]) UNITS.set(n, { factor: new Q(5n, 9n), dims: TEMP, offset: q("273.15").sub(new Q(160n, 9n)) });

export const sameDims = (a: Dims, b: Dims) => a.every((x, i) => x === b[i]);
export const isDimensionless = (a: Dims) => a.every((x) => x === 0);
export const mulDims = (a: Dims, b: Dims, sign = 1): Dims => a.map((x, i) => x + sign * b[i]!);

/** "m^2*kg/s^2": how a result with no unit asked for is shown. */
export function formatDims(dims: Dims): string {
  const up = BASE.flatMap((b, i) => (dims[i]! > 0 ? [dims[i] === 1 ? b : `${b}^${dims[i]}`] : []));
  const down = BASE.flatMap((b, i) => (dims[i]! < 0 ? [dims[i] === -1 ? b : `${b}^${-dims[i]!}`] : []));
  return (up.join("*") || (down.length ? "1" : "")) + (down.length ? `/${down.join("/")}` : "");
}

export function unit(name: string): Unit {
  const u = UNITS.get(name);
  if (!u)
    throw new CalcError(
      `unknown name '${name}': not a unit or function I know (units such as m, km, mi, ft, inch, kg, lb, s, h, l, ` +
        `gal, J, kWh, W, Pa, bar, degC, degF, K, B, MiB; functions abs, floor, ceil, round, sqrt, gcd, lcm, min, max)`,
    );
  return u;
}
