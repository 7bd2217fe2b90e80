/**
 * The tools of the whole mesh under one roof, as `lyra mcp` offers them: `<server>__<tool>`
 * (collision-free: server names have no `_`), each with its server's input schema and description.
 * One listing is reused for the config's `tools.list_ttl_s`.
 */
import { qualifiedToolName, type ListedTool } from "../../tools/index.ts";
import type { Logger } from "../../mesh/index.ts";
import { findToolServers, listServerTools, type ToolMesh } from "./tool-mesh.ts";

export interface MeshTool {
  server: string;
  tool: string;
  /** The tool as `tools/list` gives it, renamed to `<server>__<tool>`. */
  def: ListedTool;
}

export interface MeshCatalog {
  /** Every reachable tool, sorted by qualified name; a server that does not answer is left out (and logged). */
  tools(): Promise<MeshTool[]>;
  /** The tool behind a qualified name, from the last listing (listing once if there was none). */
  find(qualified: string): Promise<MeshTool | undefined>;
}

export interface CatalogOptions {
  /** How long a listing is reused, ms; 0 lists on every call. */
  ttlMs: number;
  /** Discovery wait, ms. */
  discoveryMs: number;
  log: Logger;
}

export function createMeshCatalog(tm: ToolMesh, o: CatalogOptions): MeshCatalog {
  let cached: { at: number; tools: Promise<MeshTool[]> } | undefined;
  const load = async (): Promise<MeshTool[]> => {
    const servers = await findToolServers(tm, o.discoveryMs);
    const lists = await Promise.all(
      servers.map(async ({ server }) => {
        try {
          return (await listServerTools(tm.client, server)).map((def) => ({
            server,
            tool: def.name,
            def: { ...def, name: qualifiedToolName(server, def.name) },
          }));
        } catch (err) {
          o.log.warn({ server, err: (err as Error).message }, "tool server left out of the listing");
          return [];
        }
      }),
    );
    return lists.flat().sort((a, b) => a.def.name.localeCompare(b.def.name));
  };
  const tools = () => {
    if (!cached || Date.now() - cached.at >= o.ttlMs) {
      const p = load();
      cached = { at: Date.now(), tools: p };
      void p.catch(() => (cached = undefined));
    }
    return cached.tools;
  };
  return {
    tools,
    find: async (qualified) => (await (cached?.tools ?? tools())).find((t) => t.def.name === qualified),
  };
}
