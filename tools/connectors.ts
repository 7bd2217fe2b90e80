/**
 * How `lyra tools` reaches an existing MCP server: a child process on stdio or a Streamable HTTP
 * endpoint, each through the SDK's own client transport. `${VAR}` references are expanded here,
 * at start, so a missing variable stops `lyra tools` with a message naming it.
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { expandList, expandRecord } from "./env.ts";
import type { UpstreamAttempt } from "./upstream.ts";

export interface StdioServerConfig {
  command: string;
  args?: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
}

export interface HttpServerConfig {
  url: string;
  headers?: Readonly<Record<string, string>>;
}

type Env = Readonly<Record<string, string | undefined>>;
const STDERR_TAIL_CHARS = 600;

/** The bridge is one client among many on the mesh: it names itself so server logs say who asked. */
function newClient(server: string): Client {
  return new Client({ name: `lyra-tools-${server}`, version: "0.1.0" });
}

/** Validates and expands the config now; each call of the result spawns a fresh child. */
export function stdioConnector(server: string, cfg: StdioServerConfig, env: Env = process.env): () => UpstreamAttempt {
  const args = expandList(cfg.args ?? [], env, server, "args");
  const childEnv = expandRecord(cfg.env ?? {}, env, server, "env");
  return () => {
    const transport = new StdioClientTransport({ command: cfg.command, args, env: childEnv, cwd: cfg.cwd, stderr: "pipe" });
    let tail = "";
    // The child's stderr is kept (last lines only) for the local log of a failed start or a crash;
    // it never goes on the mesh (it may hold secrets or paths).
    transport.stderr?.on("data", (d: Buffer) => {
      tail = (tail + d.toString()).slice(-STDERR_TAIL_CHARS);
    });
    return {
      client: newClient(server),
      transport,
      pid: () => transport.pid ?? undefined,
      stderrTail: () => tail.split("\n").filter(Boolean).slice(-3).join(" | "),
    };
  };
}

export function httpConnector(server: string, cfg: HttpServerConfig, env: Env = process.env): () => UpstreamAttempt {
  const headers = expandRecord(cfg.headers ?? {}, env, server, "headers");
  const url = new URL(cfg.url);
  return () => ({ client: newClient(server), transport: new StreamableHTTPClientTransport(url, { requestInit: { headers } }) });
}

/** For messages: what the server is, without secrets (args may hold them, so only the command). */
export function describeTarget(cfg: StdioServerConfig | HttpServerConfig): string {
  return "command" in cfg ? `command '${cfg.command}'` : `${new URL(cfg.url).origin}${new URL(cfg.url).pathname}`;
}
