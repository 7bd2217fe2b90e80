import { discoverRoles } from "../../../mesh/index.ts";
import { discoverToolServers, type DiscoveredToolServer } from "../../../tools/caller.ts";
import { defineCommand, intOption } from "../command.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";

export const status = defineCommand({
  name: "status",
  summary: "Every agent, role, model and host on the mesh, with load and health, and every tool server, found through $SRV discovery.",
  usage: "[--json] [--timeout MS]",
  options: { ...natsOption, json: { type: "boolean" }, timeout: { type: "string", default: "1500" } },
  help: {
    ...natsHelp,
    json: 'print JSON instead of the tables: { "roles": [...], "tool_servers": [...] }',
    timeout: "how long to wait for answers, ms",
  },
  async run(values) {
    const mesh = await cliConnect(values, "lyra-status");
    try {
      const timeoutMs = intOption("timeout", values.timeout, 1500);
      const [found, toolServers] = await Promise.all([discoverRoles(mesh, { timeoutMs }), discoverToolServers(mesh, { timeoutMs })]);
      if (values.json) {
        process.stdout.write(JSON.stringify({ roles: found, tool_servers: toolServers }, null, 2) + "\n");
        return found.length ? 0 : 1;
      }
      if (found.length === 0) {
        process.stdout.write("no Lyra agents answer on this mesh: start one with 'lyra agent --host NAME' (or 'lyra up')\n");
        if (toolServers.length) printTools(toolServers);
        return 1;
      }
      const rows = found
        .map((f) => {
          const d = (f.stats.data ?? {}) as {
            model?: string;
            backend?: string;
            loaded?: boolean;
            in_flight?: number;
            queue_depth?: number;
            degraded?: boolean;
            reason?: string;
          };
          return [
            f.role,
            f.host,
            d.model ?? f.metadata.model ?? "?",
            d.backend ?? f.metadata.backend ?? "?",
            d.loaded === undefined ? "?" : d.loaded ? "yes" : "no",
            String(d.in_flight ?? 0),
            String(d.queue_depth ?? 0),
            String(f.stats.num_requests),
            String(f.stats.num_errors),
            d.degraded ? `DEGRADED${d.reason ? ` (${d.reason})` : ""}` : "ok",
            f.instanceId,
          ];
        })
        .sort((a, b) => a[0]!.localeCompare(b[0]!) || a[1]!.localeCompare(b[1]!));
      printTable([
        ["ROLE", "HOST", "MODEL", "BACKEND", "LOADED", "IN-FLIGHT", "QUEUE", "REQUESTS", "ERRORS", "HEALTH", "INSTANCE"],
        ...rows,
      ]);
      if (toolServers.length) {
        process.stdout.write("\n");
        printTools(toolServers);
      }
      return 0;
    } finally {
      await mesh.close();
    }
  },
});

/** Rows under a header, in columns two spaces apart. */
export function printTable([head, ...rows]: string[][]): void {
  const widths = head!.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head!, ...rows])
    process.stdout.write(
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd() + "\n",
    );
}

/** The tool servers (`lyra tools`), one row per instance; why a server is down, and what bounds it on its host, go under the table. */
function printTools(servers: DiscoveredToolServer[]): void {
  const rows = servers.map((t) => [
    t.server,
    t.host,
    t.state,
    t.tools.length > 4 ? `${t.tools.slice(0, 3).join(",")},... (${t.tools.length})` : t.tools.join(",") || "-",
    String(t.inFlight),
    String(t.requests),
    String(t.errors),
    t.instanceId,
  ]);
  printTable([["SERVER", "HOST", "STATE", "TOOLS", "IN-FLIGHT", "REQUESTS", "ERRORS", "INSTANCE"], ...rows]);
  for (const t of servers) {
    if (t.error) process.stdout.write(`  ${t.server}@${t.host}: ${t.error}\n`);
    if (t.metadata.limits) process.stdout.write(`  ${t.server}@${t.host} limits: ${t.metadata.limits}\n`);
  }
}
