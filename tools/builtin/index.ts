/**
 * The built-in tool servers `lyra tools` can host in process (`tools.servers.<name>.builtin`, with
 * its `options`). Each later tool server (memory, web, ...) adds one entry here.
 */
import type { McpServerFactory } from "@modelcontextprotocol/server";
import type { Mesh, Logger } from "../../mesh/index.ts";
import { clockServer } from "./clock.ts";
import { computeBuiltin } from "./compute/index.ts";
import { startKnowledge } from "./knowledge/index.ts";
import { webBuiltin } from "./web/index.ts";
import { startMemory } from "./memory/index.ts";
import { artistBuiltin, perceptionBuiltin, speechBuiltin } from "./media/index.ts";

/** What a built-in gets when `lyra tools` starts it. */
export interface BuiltinContext {
  /** The config key (`tools.servers.<server>`), for error messages. */
  server: string;
  /** `tools.servers.<server>.options`, unchecked: the built-in validates it and says what to fix. */
  options: Readonly<Record<string, unknown>>;
  mesh: Mesh;
  tenant: string;
  host: string;
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
}

/** A started built-in: its per-request server factory, and what to release when the host stops. */
export interface StartedBuiltin {
  /** A fresh SDK server per request (the 2026-07-28 stateless model); share long-lived state by closure. */
  create: McpServerFactory;
  /**
   * One line for operators: what bounds this server on this host (the compute sandbox's memory); $SRV metadata `limits`,
   * shown by `lyra status`.
   */
  limits?: string;
  close?(): Promise<void>;
}

export interface BuiltinToolServer {
  description: string;
  /** Opens what the server keeps between requests (a database, a browser); throws a ToolsError('config') for bad options. */
  start(ctx: BuiltinContext): StartedBuiltin | Promise<StartedBuiltin>;
}

export { clockServer };
export { ARTIST_DEFAULTS, SPEECH_DEFAULTS } from "./media/index.ts";

export const BUILTIN_TOOL_SERVERS: Readonly<Record<string, BuiltinToolServer>> = {
  clock: { description: "the time in any time zone, and a wait with progress", start: () => ({ create: () => clockServer() }) },
  knowledge: { description: "Wikipedia, arXiv and Wolfram|Alpha lookups, cached in JetStream KV", start: startKnowledge },
  web: webBuiltin,
  compute: computeBuiltin,
  memory: { description: "long-term memory per user: journal entries with hybrid (BM25 + vector) search", start: startMemory },
  artist: artistBuiltin,
  speech: speechBuiltin,
  perception: perceptionBuiltin,
};
