/** Prometheus metrics of a tool host (`lyra tools`), read from its servers at scrape time where they can be. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { McpHandler } from "./server.ts";

export interface ToolMetrics {
  registry: Registry;
  calls: Counter<"server" | "tool" | "outcome">;
  duration: Histogram<"server" | "tool">;
  inFlight: Gauge<"server">;
  /** What the result cache did per tools/call: hit, miss (stored), uncacheable, bypass. */
  cache: Counter<"server" | "tool" | "result">;
}

/** The outcome label of a tools/call. */
export const CallOutcome = {
  Ok: "ok",
  /** The tool ran and reported a failure (`isError`): the model reads it. */
  ToolError: "tool_error",
  /** A JSON-RPC error: unknown tool, bad arguments, server down (-32010)... */
  Error: "error",
  Cancelled: "cancelled",
} as const;
export type CallOutcome = (typeof CallOutcome)[keyof typeof CallOutcome];

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** `live` is read at scrape time: whether each server is up and how often it restarted. */
export function createToolMetrics(live: () => { server: string; up: boolean; restarts: number }[] = () => []): ToolMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "lyra_tools_" });
  const r = { registers: [registry] };
  const seenRestarts = new Map<string, number>();
  new Gauge({
    name: "lyra_tool_server_up",
    help: "1 when the tool server answers (built-in, or its bridged MCP server is running)",
    labelNames: ["server"],
    collect() {
      for (const l of live()) this.set({ server: l.server }, l.up ? 1 : 0);
    },
    ...r,
  });
  new Counter({
    name: "lyra_tool_server_restarts_total",
    help: "Restarts of a bridged MCP server after it exited",
    labelNames: ["server"],
    collect() {
      for (const l of live()) {
        const seen = seenRestarts.get(l.server) ?? 0;
        this.inc({ server: l.server }, l.restarts - seen);
        seenRestarts.set(l.server, l.restarts);
      }
    },
    ...r,
  });
  return {
    registry,
    calls: new Counter({
      name: "lyra_tool_server_calls_total",
      help: "tools/call requests a tool server answered, by outcome",
      labelNames: ["server", "tool", "outcome"],
      ...r,
    }),
    duration: new Histogram({
      name: "lyra_tool_server_call_duration_seconds",
      help: "Time a tools/call took on this host",
      labelNames: ["server", "tool"],
      buckets: LATENCY_BUCKETS,
      ...r,
    }),
    inFlight: new Gauge({
      name: "lyra_tool_server_calls_in_flight",
      help: "tools/call requests running now",
      labelNames: ["server"],
      ...r,
    }),
    cache: new Counter({
      name: "lyra_tool_server_cache_total",
      help: "tools/call requests by what the result cache did: hit, miss (then stored), uncacheable (not marked), bypass",
      labelNames: ["server", "tool", "result"],
      ...r,
    }),
  };
}

/**
 * Counts and times every tools/call a handler answers. Tool names the server does not list are
 * labelled `_other`, so a caller sending random names cannot grow the label set.
 */
export function instrumentCalls(handler: McpHandler, server: string, m: ToolMetrics, known: () => readonly string[]): McpHandler {
  return async (req, ctx) => {
    if (req.method !== "tools/call") return handler(req, ctx);
    const tool = toolLabel(req.params?.name, known);
    const stop = m.duration.startTimer({ server, tool });
    m.inFlight.inc({ server });
    let outcome: CallOutcome = CallOutcome.Error;
    try {
      const res = await handler(req, ctx);
      outcome = ctx.signal.aborted
        ? CallOutcome.Cancelled
        : "error" in res
          ? CallOutcome.Error
          : res.result.isError
            ? CallOutcome.ToolError
            : CallOutcome.Ok;
      return res;
    } finally {
      m.inFlight.dec({ server });
      m.calls.inc({ server, tool, outcome });
      stop();
    }
  };
}

/** A tool name as a label value: `_other` unless the server lists it. */
export function toolLabel(name: unknown, known: () => readonly string[]): string {
  return typeof name === "string" && known().includes(name) ? name : "_other";
}
