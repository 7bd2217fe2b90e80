/**
 * The Grafana dashboards and the Prometheus alert rules reference only metrics the code exports:
 * every metric name in every query is collected from the processes' prom-client registries.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Registry } from "prom-client";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { createAgentMetrics } from "../../../agents/host/metrics.ts";
import { createCoreMetrics } from "../../../mesh/conductor/metrics.ts";
import { createToolMetrics } from "../../../tools/metrics.ts";
import { createFrontdoorMetrics } from "../../../agents/frontdoors/metrics.ts";

/**
 * Every process that serves /metrics, by the factory of its registry (the front doors, lyra
 * discord and lyra serve, share one). A new process is one more line here.
 */
const REGISTRIES: Record<string, () => Registry> = {
  agent: () => createAgentMetrics().registry,
  tools: () => createToolMetrics().registry,
  core: () => createCoreMetrics().registry,
  frontdoor: () => createFrontdoorMetrics().registry,
};
/** Series Prometheus makes itself. */
const SYNTHETIC = new Set(["up"]);

const INFRA = fileURLToPath(new URL("../../../infra/", import.meta.url));

/** Names a query may use: counters and gauges as they are, histograms with _bucket, _sum and _count. */
async function exportedNames(): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const [proc, make] of Object.entries(REGISTRIES)) {
    for (const m of await make().getMetricsAsJSON()) {
      const type = String(m.type);
      const forms =
        type === "histogram"
          ? ["_bucket", "_sum", "_count"].map((s) => m.name + s)
          : type === "summary"
            ? [m.name, `${m.name}_sum`, `${m.name}_count`]
            : [m.name];
      for (const f of forms) names.set(f, proc);
    }
  }
  return names;
}

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/** The metric names of a PromQL expression (strings, label matchers, grouping lists and ranges removed). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ");
  const out = new Set<string>();
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\()?)/g)) {
    if (m[1] || KEYWORDS.has(m[0].toLowerCase()) || /^\d/.test(m[0])) continue; // a function call, a keyword
    out.add(m[0]);
  }
  return [...out];
}

function dashboards(): { file: string; json: Record<string, unknown> }[] {
  const dir = join(INFRA, "grafana/dashboards");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), "utf8")) as Record<string, unknown> }));
}

type Panel = {
  id: number;
  title: string;
  type: string;
  datasource?: { uid?: string };
  gridPos?: unknown;
  targets?: { expr?: string; datasource?: { uid?: string } }[];
};

describe("PromQL metric-name extraction", () => {
  it("finds metrics and skips functions, labels, grouping and ranges", () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le, role) (rate(lyra_x_bucket{role=~"a|b"}[5m])))')).toEqual(["lyra_x_bucket"]);
    expect(metricNames("group by (role) (max_over_time(a[6h])) unless group by (role) (b)").sort()).toEqual(["a", "b"]);
    expect(metricNames('sum(rate(c{outcome="retry"}[10m])) / sum(rate(d[10m])) > 0.1').sort()).toEqual(["c", "d"]);
  });
});

describe("Grafana dashboards", async () => {
  const exported = await exportedNames();
  const datasourceUids = (
    parse(readFileSync(join(INFRA, "grafana/provisioning/datasources/prometheus.yml"), "utf8")) as { datasources: { uid: string }[] }
  ).datasources.map((d) => d.uid);

  it("cover roles, committee and tools, each a well-formed dashboard on the provisioned datasource", () => {
    const ds = dashboards();
    expect(ds.map((d) => d.json.uid).sort()).toEqual(["lyra-committee", "lyra-roles", "lyra-tools"]);
    for (const { file, json } of ds) {
      expect(typeof json.title, file).toBe("string");
      const panels = json.panels as Panel[];
      expect(panels.length, file).toBeGreaterThan(4);
      expect(new Set(panels.map((p) => p.id)).size, `${file}: panel ids are unique`).toBe(panels.length);
      for (const p of panels) {
        expect(p.gridPos, `${file} '${p.title}'`).toBeDefined();
        expect(datasourceUids, `${file} '${p.title}'`).toContain(p.datasource?.uid);
        expect(p.targets?.length, `${file} '${p.title}' has queries`).toBeGreaterThan(0);
      }
    }
  });

  it("query only metrics the code exports", () => {
    const unknown: string[] = [];
    let queries = 0;
    for (const { file, json } of dashboards()) {
      const exprs = (json.panels as Panel[]).flatMap((p) =>
        (p.targets ?? []).map((t) => ({ where: `${file} '${p.title}'`, expr: t.expr ?? "" })),
      );
      const vars = ((json.templating as { list: { name: string; query: { query: string } }[] }).list ?? []).map((v) => ({
        where: `${file} variable ${v.name}`,
        expr: v.query.query.replace(/^label_values\(([^,]+),.*\)$/, "$1"),
      }));
      for (const { where, expr } of [...exprs, ...vars]) {
        queries++;
        const names = metricNames(expr);
        expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
        for (const n of names) if (!exported.has(n) && !SYNTHETIC.has(n)) unknown.push(`${where}: ${n}`);
      }
    }
    expect(queries).toBeGreaterThan(30);
    expect(unknown).toEqual([]);
  });

  it("use metrics of every process that serves /metrics", () => {
    const used = new Set(
      dashboards().flatMap(({ json }) =>
        (json.panels as Panel[]).flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr ?? ""))),
      ),
    );
    const procs = new Set([...used].map((n) => exported.get(n)).filter(Boolean));
    expect([...procs].sort()).toEqual(Object.keys(REGISTRIES).sort());
  });
});

describe("Prometheus alert rules", async () => {
  const exported = await exportedNames();

  it("query only metrics the code exports", () => {
    const rules = parse(readFileSync(join(INFRA, "prometheus/rules/lyra.yml"), "utf8")) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        "LyraProcessDown",
        "LyraRoleDown",
        "LyraRoleDegraded",
        "LyraFallbackRateHigh",
        "LyraInboxBacklog",
        "LyraDeadLetters",
        "LyraToolErrors",
      ]),
    );
    const unknown = all.flatMap((r) =>
      metricNames(r.expr)
        .filter((n) => !exported.has(n) && !SYNTHETIC.has(n))
        .map((n) => `${r.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });
});
