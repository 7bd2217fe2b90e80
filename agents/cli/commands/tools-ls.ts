import { defineCommand, intOption } from "../command.ts";
import type { ListedTool } from "../../../tools/index.ts";
import { findToolServers, listServerTools, openToolMesh, toolMeshHelp, toolMeshOptions } from "../tool-mesh.ts";

interface ServerListing {
  server: string;
  hosts: string[];
  configured: boolean;
  tools: { name: string; description: string }[];
  error?: string;
}

export const toolsLs = defineCommand({
  name: "tools ls",
  summary: "Every tool server on the mesh (configured or discovered through $SRV) and its tools.",
  usage: "[--json] [--timeout MS] [--config FILE]",
  options: { ...toolMeshOptions, json: { type: "boolean" }, timeout: { type: "string", default: "1500" } },
  help: { ...toolMeshHelp, json: "print JSON instead of text", timeout: "how long to wait for discovery answers, ms" },
  async run(values) {
    const timeoutMs = intOption("timeout", values.timeout, 1500);
    await using tm = await openToolMesh(values, "lyra-tools-ls");
    const found = await findToolServers(tm, timeoutMs);
    const listings: ServerListing[] = await Promise.all(
      found.map(async (f) => {
        try {
          const tools = await listServerTools(tm.client, f.server, Math.max(timeoutMs, 5000));
          return { ...f, tools: tools.map(summarize) };
        } catch (err) {
          return { ...f, tools: [], error: (err as Error).message };
        }
      }),
    );
    const answering = listings.filter((l) => !l.error);
    if (values.json) {
      process.stdout.write(JSON.stringify(listings, null, 2) + "\n");
      return answering.length ? 0 : 1;
    }
    for (const l of listings) {
      const where = l.hosts.length ? ` @ ${l.hosts.join(", ")}` : "";
      process.stdout.write(`${l.server}${where}${l.error ? `  (not answering: ${l.error})` : `  (${l.tools.length} tools)`}\n`);
      const width = Math.max(0, ...l.tools.map((t) => t.name.length));
      for (const t of l.tools) process.stdout.write(`  ${t.name.padEnd(width)}  ${t.description}\n`);
    }
    if (answering.length === 0) {
      process.stderr.write(
        `no tool server answers on the mesh '${tm.tenant}': start one with 'lyra tools' (or 'lyra up'), or check --config and NATS_URL\n`,
      );
      return 1;
    }
    return 0;
  },
});

function summarize(t: ListedTool): { name: string; description: string } {
  return { name: t.name, description: (t.description ?? "").split("\n")[0]!.trim() };
}
