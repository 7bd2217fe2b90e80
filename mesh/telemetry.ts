/**
 * W3C trace context (`traceparent`, https://www.w3.org/TR/trace-context/) carried across every hop,
 * and spans. Without OTLP a span only mints the child id that goes on the next hop's header (cheap,
 * no dependency loaded); `enableOtlp()` swaps in an exporting tracer, loading OpenTelemetry then.
 */
import { randomBytes } from "node:crypto";
import type { Closable } from "./lifecycle.ts";

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** "01" sampled, "00" not. */
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const TRACE_ID = /^[0-9a-f]{32}$/;

/** Parses a traceparent header; undefined for a missing or malformed one (the spec says: start a new trace). */
export function parseTraceparent(v: string | undefined | null): TraceContext | undefined {
  const m = v ? TRACEPARENT.exec(v.trim().toLowerCase()) : null;
  if (!m || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, flags: m[4]! };
}

export function formatTraceparent(c: TraceContext): string {
  return `00-${c.traceId}-${c.spanId}-${c.flags}`;
}

// Ids come from a pool of random bytes refilled 4 KiB at a time: one randomBytes call per span
// costs ~10 µs, a slice of the pool well under 1 µs, and a turn makes about ten spans.
let pool = Buffer.alloc(0);
let at = 0;
const hex = (bytes: number) => {
  for (;;) {
    if (at + bytes > pool.length) {
      pool = randomBytes(4096);
      at = 0;
    }
    const h = pool.toString("hex", at, (at += bytes));
    if (!/^0+$/.test(h)) return h;
  }
};

export const newSpanId = () => hex(8);

/**
 * A traceparent from what a user gives: a whole traceparent, or a 32-hex trace id (a new root
 * span in that trace); a fresh trace when `v` is undefined. Throws on anything else.
 */
export function rootTraceparent(v?: string): string {
  if (v === undefined) return formatTraceparent({ traceId: hex(16), spanId: newSpanId(), flags: "01" });
  const s = v.trim().toLowerCase();
  if (TRACE_ID.test(s) && !/^0+$/.test(s)) return formatTraceparent({ traceId: s, spanId: newSpanId(), flags: "01" });
  if (parseTraceparent(s)) return s;
  throw new Error(`'${v.slice(0, 80)}' is not a trace id (32 hex digits) or a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)`);
}

/** The trace id of a traceparent header, for log lines; undefined when there is none. */
export const traceIdOf = (traceparent: string | undefined | null) => parseTraceparent(traceparent)?.traceId;

export type SpanKind = "internal" | "server" | "client" | "producer" | "consumer";
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface Span {
  /** The trace id (new when the parent was missing or malformed). */
  readonly traceId: string;
  /** This span as a traceparent: what goes on the headers of the calls it makes. */
  readonly traceparent: string;
  setAttributes(a: SpanAttributes): void;
  /** Ends the span; an error marks it failed. Safe to call twice. */
  end(error?: unknown): void;
}

/** close() flushes what is buffered; the process tracer goes back to the no-op one. */
export interface Tracer extends Closable {
  start(name: string, parent: string | undefined, o?: { kind?: SpanKind; attributes?: SpanAttributes }): Span;
}

/** Mints child ids only: the trace continues on the wire and in the logs, nothing is exported. */
export const idTracer: Tracer = {
  start(_name, parent) {
    const p = parseTraceparent(parent);
    const ctx = { traceId: p?.traceId ?? hex(16), spanId: newSpanId(), flags: p?.flags ?? "01" };
    return { traceId: ctx.traceId, traceparent: formatTraceparent(ctx), setAttributes: () => undefined, end: () => undefined };
  },
  // Nothing to stop: always closed.
  close: async () => undefined,
  closed: async () => undefined,
  [Symbol.asyncDispose]: async () => undefined,
};

let current: Tracer = idTracer;

/** The process's tracer: the id-only one unless `enableOtlp()` ran. */
export const tracer = (): Tracer => current;

export interface OtlpOptions {
  /** Base URL of an OTLP/HTTP collector, such as http://otel-collector:4318 (traces go to <endpoint>/v1/traces). */
  endpoint: string;
  /** Extra request headers (an API key...). */
  headers?: Record<string, string>;
  /** `service.name` of this process's spans, such as "lyra-core". */
  serviceName: string;
  /** Attributes on every span of the process (host...). */
  resource?: Record<string, string>;
}

/**
 * Exports this process's spans over OTLP/HTTP. The OpenTelemetry SDK is imported here, on first
 * use, so a process that does not turn OTLP on never loads it.
 */
export async function enableOtlp(o: OtlpOptions): Promise<Tracer> {
  const { createOtlpTracer } = await import("./otlp.ts");
  current = await createOtlpTracer(o, () => (current = idTracer));
  return current;
}
