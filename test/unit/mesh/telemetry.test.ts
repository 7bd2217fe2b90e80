/** W3C traceparent handling, the id-only tracer, and OpenTelemetry kept out of the static import graph. */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatTraceparent, idTracer, parseTraceparent, rootTraceparent, traceIdOf, tracer } from "../../../mesh/telemetry.ts";

const TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("traceparent", () => {
  it("parses the spec's example and formats it back", () => {
    const c = parseTraceparent(TP);
    expect(c).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: "01" });
    expect(formatTraceparent(c!)).toBe(TP);
    expect(traceIdOf(TP.toUpperCase())).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  it("refuses malformed ones (a new trace starts instead)", () => {
    for (const bad of [
      undefined,
      "",
      "00-abc-def-01",
      `ff-${TP.slice(3)}`,
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  it("rootTraceparent takes a trace id, a traceparent, or nothing", () => {
    expect(rootTraceparent("4BF92F3577B34DA6A3CE929D0E0E4736")).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(rootTraceparent(TP)).toBe(TP);
    const fresh = parseTraceparent(rootTraceparent());
    expect(fresh?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(() => rootTraceparent("xyz")).toThrow(/not a trace id \(32 hex digits\) or a W3C traceparent/);
  });
});

describe("the id-only tracer", () => {
  it("is the default, and continues the parent's trace with a new span id", () => {
    expect(tracer()).toBe(idTracer);
    const s = tracer().start("x", TP);
    const c = parseTraceparent(s.traceparent)!;
    expect(s.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(c.traceId).toBe(s.traceId);
    expect(c.spanId).not.toBe("00f067aa0ba902b7");
    expect(c.flags).toBe("01");
  });

  it("starts a new trace when the parent is missing or malformed", () => {
    const a = tracer().start("x", undefined);
    const b = tracer().start("x", "garbage");
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(b.traceId).not.toBe(a.traceId);
  });
});

describe("OpenTelemetry is loaded only when OTLP is on", () => {
  const root = fileURLToPath(new URL("../../..", import.meta.url));
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) return sources(p);
      return p.endsWith(".ts") ? [p] : [];
    });
  const files = ["schemas", "mesh", "tools", "agents"].flatMap((d) => sources(join(root, d)));

  it("only mesh/otlp.ts imports @opentelemetry, and nothing imports it statically", () => {
    const importers = files.filter((f) => /from "@opentelemetry\//.test(readFileSync(f, "utf8"))).map((f) => relative(root, f));
    expect(importers).toEqual(["mesh/otlp.ts"]);
    const staticOtlp = files.filter((f) => /^import[^;]*from "[./]*otlp\.ts"/m.test(readFileSync(f, "utf8"))).map((f) => relative(root, f));
    expect(staticOtlp).toEqual([]);
    expect(readFileSync(join(root, "mesh/telemetry.ts"), "utf8")).toMatch(/await import\("\.\/otlp\.ts"\)/);
  });
});
