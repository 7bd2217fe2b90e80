/**
 * The built-in tool servers `lyra tools` can host in process (`tools.servers.<name>.builtin`).
 * Each later tool server (memory, web, ...) adds one entry here.
 */
import type { McpServerFactory } from "@modelcontextprotocol/server";
import { clockServer } from "./clock.ts";

export interface BuiltinToolServer {
  description: string;
  /** A fresh SDK server per request (the 2026-07-28 stateless model). */
  create: McpServerFactory;
}

export const BUILTIN_TOOL_SERVERS: Readonly<Record<string, BuiltinToolServer>> = {
  clock: { description: "the time in any time zone, and a wait with progress", create: () => clockServer() },
};
