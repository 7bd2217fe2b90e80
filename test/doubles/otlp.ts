/**
 * An OTLP/HTTP trace collector double: `POST /v1/traces` with an ExportTraceServiceRequest in the
 * OTLP/JSON encoding (opentelemetry-proto, "OTLP/HTTP" in the OTLP specification: JSON bodies use
 * `application/json`, and trace and span ids are hex strings, not base64). Answers an empty
 * ExportTraceServiceResponse. Protobuf bodies are refused with 415, as a JSON-only collector would.
 */
import { z } from "zod";
import type { Closable } from "../../mesh/lifecycle.ts";
import { readJson, sendJson, startDoubleServer, type DoubleServer, lifeOf } from "./http.ts";

const HexId = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `a ${n}-digit lowercase hex id`);
const AnyValue = z.looseObject({
  stringValue: z.string().optional(),
  intValue: z.union([z.string(), z.number()]).optional(),
  boolValue: z.boolean().optional(),
  doubleValue: z.number().optional(),
});
const KeyValue = z.looseObject({ key: z.string(), value: AnyValue });

const OtlpSpan = z.looseObject({
  traceId: HexId(32),
  spanId: HexId(16),
  parentSpanId: z.union([HexId(16), z.literal("")]).optional(),
  name: z.string(),
  kind: z.number().int().min(0).max(5),
  startTimeUnixNano: z.union([z.string(), z.number()]),
  endTimeUnixNano: z.union([z.string(), z.number()]),
  attributes: z.array(KeyValue).default([]),
  status: z.looseObject({ code: z.number().int().optional(), message: z.string().optional() }).optional(),
});

export const ExportTraceServiceRequest = z.looseObject({
  resourceSpans: z.array(
    z.looseObject({
      resource: z.looseObject({ attributes: z.array(KeyValue).default([]) }).optional(),
      scopeSpans: z.array(z.looseObject({ scope: z.looseObject({ name: z.string() }).optional(), spans: z.array(OtlpSpan) })),
    }),
  ),
});

/** A received span, flattened: its service and attributes as plain values. */
export interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  error: boolean;
}

export interface OtlpCollectorDouble extends Closable {
  /** Base URL, the `endpoint` of telemetry.otlp. */
  readonly url: string;
  spans(): CollectedSpan[];
  /** Requests refused (not JSON, or not an ExportTraceServiceRequest), with the reason. */
  refused(): string[];
  /** The headers of every accepted export request. */
  headers(): Record<string, string | string[] | undefined>[];
}

const plain = (kvs: z.infer<typeof KeyValue>[]) =>
  Object.fromEntries(kvs.map((kv) => [kv.key, kv.value.stringValue ?? kv.value.intValue ?? kv.value.boolValue ?? kv.value.doubleValue]));

export async function startOtlpCollectorDouble(): Promise<OtlpCollectorDouble> {
  const spans: CollectedSpan[] = [];
  const refused: string[] = [];
  const headers: Record<string, string | string[] | undefined>[] = [];
  const server: DoubleServer = await startDoubleServer(async (req, res) => {
    if (req.method !== "POST" || req.url !== "/v1/traces") return sendJson(res, 404, { code: 5, message: `no ${req.method} ${req.url}` });
    if (!req.headers["content-type"]?.startsWith("application/json")) {
      refused.push(`content-type ${req.headers["content-type"]}`);
      req.resume();
      return sendJson(res, 415, { code: 3, message: "this collector takes OTLP/JSON only" });
    }
    const parsed = ExportTraceServiceRequest.safeParse(await readJson(req));
    if (!parsed.success) {
      refused.push(parsed.error.message);
      return sendJson(res, 400, { code: 3, message: parsed.error.message });
    }
    headers.push(req.headers);
    for (const rs of parsed.data.resourceSpans) {
      const service = String(plain(rs.resource?.attributes ?? [])["service.name"] ?? "");
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          spans.push({
            service,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId || undefined,
            name: s.name,
            kind: s.kind,
            attributes: plain(s.attributes),
            error: s.status?.code === 2,
          });
        }
      }
    }
    sendJson(res, 200, {});
  });
  return {
    url: server.url,
    spans: () => [...spans],
    refused: () => [...refused],
    headers: () => [...headers],
    ...lifeOf(server),
  };
}
