/**
 * The agent host's side of the tool plane: lists the tools a role is granted (from the tool
 * servers on the mesh, cached briefly), offers them to the model as tool definitions, and runs
 * the model's calls over NATS. Every failure becomes a result the model can read, never a throw.
 */
import { Header, type ToolCall, type ToolSpec } from "../../schemas/index.ts";
import { type Mesh, type Logger, tracer } from "../../mesh/index.ts";
import {
  createMcpClient,
  grantAllows,
  listTools,
  McpCode,
  meshRequest,
  MetaKey,
  McpWireError,
  qualifiedToolName,
  REQUEST_TIMEOUT,
  splitToolName,
  ToolsError,
  type JsonRpcResponse,
  type ListedTool,
  type McpClient,
} from "../../tools/caller.ts";
import { callOutcome, errorOutcome, ToolStatus, type ToolOutcome } from "./toolcontent.ts";

/** Time a tools/list may take before the server is left out of the offer, ms. */
export const DEFAULT_TOOL_LIST_TIMEOUT_MS = 5_000;
/** How long a failed listing is remembered (so a dead server does not cost every turn), ms. */
const FAILED_LIST_TTL_MS = 5_000;
/** Who is asking, in the `_meta` of every request (server logs say so). */
const CLIENT_META = { [MetaKey.ClientInfo]: { name: "lyra-agent", version: "0.1.0" } };

export interface ToolPlaneOptions {
  mesh: Mesh;
  /** The mesh name (the MCP tenant). */
  tenant: string;
  log: Logger;
  /** How long a server's listing is reused, ms; default 60000; 0 lists every time. */
  listTtlMs?: number;
  /** Default 5000. */
  listTimeoutMs?: number;
}

/** The tools offered to a model for one answer. */
export interface ToolOffer {
  specs: ToolSpec[];
  /** Qualified name → server and tool. */
  names: Map<string, { server: string; tool: string }>;
}

export interface ToolCallOptions {
  /** The offer's names, for tools whose name had to be made model-safe; default `server__tool` split. */
  names?: ToolOffer["names"];
  signal?: AbortSignal;
  /** Per-call limit, ms (the role's tool_timeout_ms). */
  timeoutMs: number;
  /** Who the call is for (`lyra/user`, `lyra/conversation` from the role request), in the request's `_meta`. */
  scope?: CallScope;
}

/** The end user and conversation of the request a tool call serves; never taken from the model. */
export interface CallScope {
  user?: string;
  conversation?: string;
  /** The role request's span (W3C traceparent); each tool call is a child span of it, on the request's `traceparent` header. */
  traceparent?: string;
}

function metaOf(scope: CallScope | undefined): Record<string, unknown> {
  if (!scope) return CLIENT_META;
  return {
    ...CLIENT_META,
    ...(scope.user !== undefined ? { [MetaKey.User]: scope.user } : {}),
    ...(scope.conversation !== undefined ? { [MetaKey.Conversation]: scope.conversation } : {}),
  };
}

export interface ToolPlane {
  /** The role's granted tools that the servers list now; a server that does not answer is left out. */
  offer(role: string, grants: readonly string[]): Promise<ToolOffer>;
  /** Runs one model call. Never throws: refusals, timeouts and failures are outcomes. */
  call(
    role: string,
    grants: readonly string[],
    call: ToolCall,
    opts: ToolCallOptions,
  ): Promise<ToolOutcome & { server?: string; tool?: string }>;
  close(): void;
}

type Listing = { at: number; tools?: ListedTool[]; error?: string };

export function createToolPlane(o: ToolPlaneOptions): ToolPlane {
  const ttl = o.listTtlMs ?? 60_000;
  const clients = new Map<string, McpClient>();
  const listings = new Map<string, Listing>();
  const pending = new Map<string, Promise<Listing>>();
  const clientFor = (role: string) => {
    let c = clients.get(role);
    if (!c) clients.set(role, (c = createMcpClient(o.mesh, { tenant: o.tenant, user: role })));
    return c;
  };

  // No caller's signal: the listing is shared by every answer waiting for it (and cached).
  async function fetchListing(role: string, server: string): Promise<Listing> {
    try {
      const tools = await listTools(clientFor(role), server, {
        timeoutMs: o.listTimeoutMs ?? DEFAULT_TOOL_LIST_TIMEOUT_MS,
        meta: CLIENT_META,
      });
      return { at: Date.now(), tools };
    } catch (err) {
      if (err instanceof McpWireError) return { at: Date.now(), error: `${err.message} (code ${err.rpcCode})` };
      throw err;
    }
  }

  async function listing(role: string, server: string): Promise<Listing> {
    const key = `${role}\u0000${server}`;
    const cached = listings.get(key);
    if (cached && Date.now() - cached.at < (cached.error ? Math.min(ttl, FAILED_LIST_TTL_MS) : ttl)) return cached;
    let p = pending.get(key);
    if (!p) {
      p = fetchListing(role, server)
        .catch((err: unknown) => ({ at: Date.now(), error: (err as Error).message }))
        .then((l) => {
          if (ttl > 0) listings.set(key, l);
          return l;
        })
        .finally(() => pending.delete(key));
      pending.set(key, p);
    }
    return p;
  }

  return {
    async offer(role, grants) {
      const servers = [...new Set(grants.map((g) => g.split(".")[0]!))];
      const specs: ToolSpec[] = [];
      const names = new Map<string, { server: string; tool: string }>();
      const lists = await Promise.all(servers.map((s) => listing(role, s)));
      servers.forEach((server, i) => {
        const l = lists[i]!;
        if (l.error !== undefined) {
          o.log.warn(
            { role, server, error: l.error },
            "tool server did not list its tools; its tools are left out of this offer (is 'lyra tools' running?)",
          );
          return;
        }
        for (const t of l.tools ?? []) {
          if (!grantAllows(grants, server, t.name)) continue;
          const name = modelSafeName(qualifiedToolName(server, t.name), names);
          names.set(name, { server, tool: t.name });
          specs.push({ name, description: t.description ?? "", parameters: t.inputSchema ?? { type: "object", properties: {} } });
        }
      });
      // A fixed order whatever the servers' listing order: the tool definitions are part of the
      // prompt's prefix, which must stay byte-stable across turns for the backend's prefix cache.
      specs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { specs, names };
    },

    async call(role, grants, call, opts) {
      const split = opts.names?.get(call.name) ?? splitToolName(call.name);
      if (!split)
        return errorOutcome(
          ToolStatus.Unknown,
          `there is no tool '${call.name}': mesh tools are named server__tool; call one of the tools you were given`,
        );
      const { server, tool } = split;
      if (!grantAllows(grants, server, tool)) {
        return {
          server,
          tool,
          ...errorOutcome(
            ToolStatus.Refused,
            `tool '${call.name}' is not granted to role '${role}'; it was not called. Use only the tools you were given.`,
          ),
        };
      }
      const span = tracer().start(`tool ${server}.${tool}`, opts.scope?.traceparent, {
        kind: "client",
        attributes: { "lyra.role": role, "lyra.tool.server": server, "lyra.tool": tool },
      });
      const out = await callTool(clientFor(role), server, tool, call, opts, span.traceparent);
      span.end(out.isError ? out.status : undefined);
      return out;
    },

    close() {
      for (const c of clients.values()) void c.close(); // done before the promise returns
      clients.clear();
    },
  };
}

async function callTool(
  client: McpClient,
  server: string,
  tool: string,
  call: ToolCall,
  opts: ToolCallOptions,
  traceparent: string,
): Promise<ToolOutcome & { server: string; tool: string }> {
  let res: JsonRpcResponse;
  try {
    const req = meshRequest("tools/call", { name: tool, arguments: call.arguments }, metaOf(opts.scope));
    res = await client.request(server, req, {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      headers: { [Header.TraceParent]: traceparent },
    });
  } catch (err) {
    const cancelled = err instanceof ToolsError && err.code === "cancelled";
    return {
      server,
      tool,
      ...errorOutcome(
        cancelled ? ToolStatus.Cancelled : ToolStatus.Unavailable,
        `tool '${call.name}' was not completed: ${(err as Error).message}`,
      ),
    };
  }
  if ("error" in res) {
    const code = res.error.code;
    if (code === REQUEST_TIMEOUT)
      return {
        server,
        tool,
        ...errorOutcome(
          ToolStatus.Timeout,
          `tool '${call.name}' timed out after ${opts.timeoutMs} ms and was cancelled; answer without it or try something else`,
        ),
      };
    if (code === McpCode.NoServer || code === McpCode.StreamLost) {
      return { server, tool, ...errorOutcome(ToolStatus.Unavailable, `tool '${call.name}' is unavailable: ${res.error.message}`) };
    }
  }
  return { server, tool, ...callOutcome(res, `'${call.name}'`) };
}

const MODEL_SAFE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * OpenAI-compatible APIs refuse a whole request whose function names are not `[A-Za-z0-9_-]{1,64}`,
 * and MCP tool names may hold dots, slashes or be longer: such names are rewritten (and kept
 * distinct) for the model; calls are mapped back through the offer.
 */
function modelSafeName(name: string, taken: ReadonlyMap<string, unknown>): string {
  if (MODEL_SAFE.test(name)) return name;
  const base = name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 60);
  let out = base;
  for (let n = 2; taken.has(out); n++) out = `${base}_${n}`;
  return out;
}
