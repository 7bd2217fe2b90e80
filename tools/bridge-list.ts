/**
 * The bridge's tools/list cache: answers reused for `listTtlMs` within one server generation,
 * concurrent misses sharing one request, and a list_changed making whatever was cached or under
 * way stale.
 */
import type { Tool } from "@modelcontextprotocol/client";
import type { Upstream } from "./upstream.ts";

export interface ToolList {
  /** The server's tools, the cache permitting. */
  tools: () => Promise<Tool[]>;
  /** Tool names from the last list (empty before one). */
  names: () => string[];
  /** How many tools/list reached the server (the cache's misses). */
  fetches: () => number;
}

export function createToolList(up: Upstream, listTtlMs: number, callTimeoutMs: number): ToolList {
  let cache: { gen: number; epoch: number; at: number; tools: Tool[] } | undefined;
  let fetches = 0;
  // Bumped by every list_changed: a listing that was under way then may be stale, so it is
  // answered to whoever asked before the change but neither cached nor shared after it.
  let epoch = 0;
  let inflight: { gen: number; epoch: number; list: Promise<Tool[]> } | undefined;

  const tools = async (): Promise<Tool[]> => {
    const gen = up.generation();
    const at = epoch;
    if (cache && cache.gen === gen && cache.epoch === at && Date.now() - cache.at < listTtlMs) return cache.tools;
    // Concurrent misses share one request to the server.
    if (inflight && inflight.gen === gen && inflight.epoch === at) return inflight.list;
    const mine = {
      gen,
      epoch: at,
      list: up
        .run(async (c) => {
          fetches++;
          const res = await c.listTools(undefined, { cacheMode: "refresh", timeout: callTimeoutMs });
          return res.tools.map(toModernTool);
        })
        .then((list) => {
          if (epoch === at) cache = { gen, epoch: at, at: Date.now(), tools: list };
          return list;
        })
        .finally(() => {
          if (inflight === mine) inflight = undefined;
        }),
    };
    inflight = mine;
    return mine.list;
  };

  // A (re)started server is listed at once, so status and metrics show its tools; a server that
  // says its list changed is asked again on the next tools/list.
  up.onEvent((e) => {
    if (e === "tools_changed") {
      epoch++;
      cache = undefined;
    } else void tools().catch(() => undefined);
  });

  return { tools, names: () => (cache?.tools ?? []).map((t) => t.name), fetches: () => fetches };
}

/** 2025-era tool fields the 2026-07-28 wire removed (task support); the mesh's clients reject them. */
function toModernTool(t: Tool): Tool {
  const { execution, ...rest } = t as Tool & { execution?: Record<string, unknown> };
  if (!execution) return t;
  const { taskSupport: _dropped, ...keep } = execution;
  return Object.keys(keep).length ? { ...rest, execution: keep } : rest;
}
