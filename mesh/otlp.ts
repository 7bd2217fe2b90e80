/**
 * The exporting tracer: OpenTelemetry's trace SDK with its OTLP/HTTP (JSON) exporter. Imported only
 * by `enableOtlp()` in telemetry.ts, dynamically, so processes without OTLP never load the SDK.
 */
import { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import {
  formatTraceparent,
  parseTraceparent,
  type OtlpOptions,
  type Span,
  type SpanAttributes,
  type SpanKind as Kind,
  type Tracer,
} from "./telemetry.ts";
import { lifecycle } from "./lifecycle.ts";

const KINDS: Record<Kind, SpanKind> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

const defined = (a: SpanAttributes | undefined) =>
  Object.fromEntries(Object.entries(a ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string | number | boolean>;

export async function createOtlpTracer(o: OtlpOptions, onShutdown: () => void): Promise<Tracer> {
  const exporter = new OTLPTraceExporter({ url: `${o.endpoint.replace(/\/+$/, "")}/v1/traces`, headers: o.headers });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": o.serviceName, ...o.resource }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
  });
  const otel = provider.getTracer("lyra-mesh");
  return {
    start(name, parent, opts = {}): Span {
      const p = parseTraceparent(parent);
      const ctx = p
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: p.traceId,
            spanId: p.spanId,
            traceFlags: p.flags === "01" ? TraceFlags.SAMPLED : TraceFlags.NONE,
            isRemote: true,
          })
        : ROOT_CONTEXT;
      const span = otel.startSpan(name, { kind: KINDS[opts.kind ?? "internal"], attributes: defined(opts.attributes) }, ctx);
      const sc = span.spanContext();
      let ended = false;
      return {
        traceId: sc.traceId,
        traceparent: formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags & TraceFlags.SAMPLED ? "01" : "00" }),
        setAttributes: (a) => void span.setAttributes(defined(a)),
        end(error) {
          if (ended) return;
          ended = true;
          if (error !== undefined)
            span.setStatus({
              code: SpanStatusCode.ERROR,
              message: error instanceof Error ? error.message : typeof error === "string" ? error : "failed",
            });
          span.end();
        },
      };
    },
    ...lifecycle({
      close: async () => {
        onShutdown();
        await provider.shutdown();
      },
    }),
  };
}
