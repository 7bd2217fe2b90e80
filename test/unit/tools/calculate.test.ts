/** calculate: exact results, units and conversions, and the size caps that bound its work. */
import { describe, expect, it } from "vitest";
import { calculate, CalcError } from "../../../tools/builtin/compute/index.ts";

describe("calculate", () => {
  it.each([
    ["0.1 + 0.2", "0.3 (= 3/10)"],
    ["1/3 + 1/6", "0.5 (= 1/2)"],
    ["2/3", "2/3 ≈ 0.66666666666666666666…"],
    ["(1+2)*3 - 4/5", "8.2 (= 41/5)"],
    ["-2^2", "-4"],
    ["2^-2", "0.25 (= 1/4)"],
    ["2**10", "1024"],
    ["2^3^2", "512"],
    ["2^100", "1267650600228229401496703205376"],
    ["25!", "15511210043330985984000000"],
    ["7 % 3", "1"],
    ["-7 % 3", "2"],
    ["-7 // 2", "-4"],
    ["1e-3 * 1e3", "1"],
    [".5 + 1.", "1.5 (= 3/2)"],
    ["123456789012345678901234567890 * 987654321098765432109876543210", "121932631137021795226185032733622923332237463801111263526900"],
    ["sqrt(16/9)", "4/3 ≈ 1.3333333333333333333…"],
    ["gcd(12, 18, 27)", "3"],
    ["lcm(4, 6)", "12"],
    ["abs(-3/4)", "0.75 (= 3/4)"],
    ["floor(-1/2)", "-1"],
    ["ceil(1/3)", "1"],
    ["round(2.5)", "3"],
    ["round(-2.5)", "-3"],
    ["min(3, 1/2, 2)", "0.5 (= 1/2)"],
    ["max(1 m, 2 ft)", "1 m"],
    ["1 mi to km", "1.609344 (= 25146/15625) km"],
    ["1 mi in km", "1.609344 (= 25146/15625) km"],
    ["10 lb to kg", "4.5359237 (= 45359237/10000000) kg"],
    ["1 km/h to m/s", "5/18 ≈ 0.27777777777777777777… m/s"],
    ["60 mi/h to km/h", "96.56064 (= 301752/3125) km/h"],
    ["3 m^2 to ft^2", "1562500/48387 ≈ 32.291731250129166925… ft^2"],
    ["1 GiB to MB", "1073.741824 (= 16777216/15625) MB"],
    ["1 kWh to J", "3600000 J"],
    ["1 year to s", "31557600 s"],
    ["5 km + 300 m", "5.3 (= 53/10) km"],
    ["2 m * 3 m", "6 m^2"],
    ["1 N to kg*m/s^2", "1 kg*m/s^2"],
    ["100 degC to degF", "212 degF"],
    ["-40 degF to degC", "-40 degC"],
    ["20 degC to K", "293.15 (= 5863/20) K"],
    ["300 K to degC", "26.85 (= 537/20) degC"],
    ["1 atm to bar", "1.01325 (= 4053/4000) bar"],
    ["1 eV to J", "0.0000000000000000001602176634 (= 801088317/5000000000000000000000000000) J"],
  ])("%s = %s", (expr, want) => {
    expect(calculate(expr)).toBe(want);
  });

  it("refuses work past its caps before doing it", () => {
    expect(() => calculate("99999999^99999999")).toThrow(CalcError);
    expect(() => calculate("3000! * 3000! * 3000! * 3000!")).toThrow(/more than 40000 bits/);
    expect(calculate("2^39999").length).toBeGreaterThan(12_000);
    expect(() => calculate("(2^39990+1)/(3^25000+7)")).toThrow(/too large to reduce exactly/);
    expect(() => calculate("gcd(2^39990-1, 3^25000-1)")).toThrow(/too large to reduce exactly/);
    expect(() => calculate("1/7^1000")).toThrow(/denominator has more than 2048 bits/);
  });
});
