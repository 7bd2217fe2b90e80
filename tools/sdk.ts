/**
 * The MCP TypeScript SDK v2 on NATS, both ends, unchanged:
 * - server side: an `McpServerFactory` served through the SDK's own per-request handler
 *   (`createMcpHandler`): each NATS request becomes one web-standard exchange, its SSE events
 *   become `msg` frames and its response the `end` frame;
 * - client side: `NatsClientTransport`, a per-request-stream `Transport` for the SDK's `Client`.
 */
import { Client } from "@modelcontextprotocol/client";
import { createMcpHandler, type McpServerFactory, type Transport, type TransportSendOptions } from "@modelcontextprotocol/server";
import type { McpClient, McpRequestOptions } from "./client.ts";
import { ToolsError, ToolsErrorCode } from "./errors.ts";
import type { McpHandler } from "./server.ts";
import {
  encodeHeaderValue,
  errorResponse,
  McpCode,
  MCP_PROTOCOL_VERSION,
  asJsonRpcResponse,
  parseObject,
  parseResponse,
  MetaKey,
  requestName,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "./wire.ts";

const ENDPOINT = "http://mcp.nats.invalid/mcp";

/** An McpHandler that runs each request on a fresh server from `factory` (the SDK's modern model). */
export function sdkHandler(factory: McpServerFactory): McpHandler & { close(): Promise<void> } {
  const http = createMcpHandler(factory);
  const handle: McpHandler = async (req, ctx) => {
    const name = requestName(req.method, req.params);
    const version = (req.params?._meta as Record<string, unknown> | undefined)?.[MetaKey.ProtocolVersion];
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-method": req.method,
      "mcp-protocol-version": typeof version === "string" ? version : MCP_PROTOCOL_VERSION,
    };
    if (name !== undefined) headers["mcp-name"] = encodeHeaderValue(name);
    const res = await http.fetch(new Request(ENDPOINT, { method: "POST", headers, body: JSON.stringify(req), signal: ctx.signal }), {
      parsedBody: req,
      authInfo: { token: "", clientId: ctx.user, scopes: [], extra: { tenant: ctx.tenant, user: ctx.user } },
    });
    const type = res.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream")) return asResponse(req, await res.text(), res.status);
    let final: JsonRpcResponse | undefined;
    for await (const data of sseData(res)) {
      const msg = parseObject(data);
      if (msg && "id" in msg && ("result" in msg || "error" in msg)) final = asJsonRpcResponse(req.id, msg);
      else if (msg && typeof msg.method === "string") ctx.notify(msg as unknown as JsonRpcNotification);
    }
    return final ?? errorResponse(req.id, McpCode.Internal, "the MCP server ended its stream without a response");
  };
  return Object.assign(handle, { close: () => http.close() });
}

function asResponse(req: JsonRpcRequest, text: string, status: number): JsonRpcResponse {
  return (
    parseResponse(req.id, text) ??
    errorResponse(req.id, McpCode.Internal, `the MCP server answered HTTP ${status} without a JSON-RPC response`)
  );
}

/** The `data:` payloads of a server-sent-events body. */
async function* sseData(res: Response): AsyncGenerator<string> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buf += value;
      let end: number;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = event
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart())
          .join("\n");
        if (data) yield data;
      }
      if (done) return;
    }
  } finally {
    // A consumer that stops early must not leave the exchange's stream open.
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * The SDK `Client`'s transport to one tool server on the mesh. Each request is its own NATS
 * exchange (`hasPerRequestStream`), so the SDK cancels by aborting `requestSignal`, which this
 * transport turns into `{reply}.ctl`.
 */
export class NatsClientTransport implements Transport {
  readonly hasPerRequestStream = true;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport["onmessage"];
  private readonly client: McpClient;
  private readonly server: string;
  private readonly opts: McpRequestOptions;
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  constructor(client: McpClient, server: string, opts: McpRequestOptions = {}) {
    this.client = client;
    this.server = server;
    this.opts = opts;
  }

  async start(): Promise<void> {}

  async send(message: Parameters<Transport["send"]>[0], options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new ToolsError(ToolsErrorCode.Closed, "the NATS MCP transport is closed");
    const m = message as Record<string, unknown>;
    // Only requests travel: 2026-07-28 has no server-initiated requests to answer, and
    // cancellation is the per-request stream's (requestSignal), not a notification.
    if (typeof m.method !== "string" || !("id" in m)) return;
    const abort = new AbortController();
    const signal = options?.requestSignal ? AbortSignal.any([abort.signal, options.requestSignal]) : abort.signal;
    this.inflight.add(abort);
    const req = m as unknown as JsonRpcRequest;
    void this.client
      .request(this.server, req, { ...this.opts, signal, onNotification: (n) => this.deliver(n) })
      .then(
        (res) => this.deliver(res),
        (err: unknown) => {
          // A cancelled request has no response: the SDK already settled it.
          if (!(err instanceof ToolsError && err.code === ToolsErrorCode.Cancelled))
            this.deliver(errorResponse(req.id, McpCode.StreamLost, (err as Error).message));
        },
      )
      .finally(() => this.inflight.delete(abort));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.inflight) a.abort();
    this.onclose?.();
  }

  private deliver(msg: JsonRpcResponse | JsonRpcNotification): void {
    try {
      this.onmessage?.(msg as never);
    } catch (err) {
      this.onerror?.(err as Error);
    }
  }
}

/** An SDK `Client` connected to a tool server over NATS, on the bus's protocol revision. */
export async function connectSdkClient(client: McpClient, server: string, opts: McpRequestOptions = {}): Promise<Client> {
  const sdk = new Client(
    { name: `lyra-${client.user}`, version: "0.1.0" },
    { versionNegotiation: { mode: { pin: MCP_PROTOCOL_VERSION } } },
  );
  await sdk.connect(new NatsClientTransport(client, server, opts));
  return sdk;
}
