/**
 * The request streams of one served MCP server: each request checked, run by the handler with a
 * context, kept alive by `ka` frames, cancellable by `{reply}.ctl`, and ended by one `end` (or `err`)
 * frame, through the claim-check store when the result is over max_payload.
 */
import { headers as natsHeaders, type Msg, type Subscription } from "@nats-io/nats-core";
import { type Logger, type Mesh, parseMcpSubject, subjects, type McpSubject, tracer } from "../mesh/index.ts";
import { putClaim } from "./claim.ts";
import { ToolsError, ToolsErrorCode } from "./errors.ts";
import { checkInbound } from "./integrity.ts";
import type { McpHandler, McpRequestContext } from "./server.ts";
import { errorResponse, Frame, McpCode, McpHeader, WIRE_VERSION, type JsonRpcRequest, type JsonRpcResponse } from "./wire.ts";

interface Live {
  abort: AbortController;
  /** The last frame is sent (or being sent): nothing more goes to the caller. */
  done: boolean;
  reply: string;
  id: JsonRpcRequest["id"];
  ka?: NodeJS.Timeout;
  ctl?: Subscription;
}

export interface RequestStreamsOptions {
  server: string;
  tenant: string;
  host: string;
  handler: McpHandler;
  keepAliveMs: number;
  claimMaxAgeMs?: number;
  log: Logger;
}

export interface RequestStreams {
  /** Takes one request off the endpoint. */
  onRequest(msg: Msg): void;
  inFlight: () => number;
  /** New requests are refused with -32010 from now on. */
  refuse(): void;
  /** Ends every request in flight with -32010 and aborts its handler. */
  endAll(why: string): void;
}

/** Sends frames on reply subjects; a frame that cannot be published is logged and dropped. */
interface Frames {
  send: (reply: string, frame: Frame, body?: Uint8Array | string, extra?: Record<string, string>) => void;
  sendError: (reply: string, res: JsonRpcResponse) => void;
}

function framesOn(mesh: Mesh, log: Logger): Frames {
  const send: Frames["send"] = (reply, frame, body, extra) => {
    const h = natsHeaders();
    h.set(McpHeader.Wire, WIRE_VERSION);
    h.set(McpHeader.Frame, frame);
    for (const [k, v] of Object.entries(extra ?? {})) h.set(k, v);
    try {
      mesh.nc.publish(reply, body ?? new Uint8Array(0), { headers: h });
    } catch (err) {
      log.debug({ err, reply }, "reply frame not sent");
    }
  };
  return { send, sendError: (reply, res) => send(reply, Frame.Err, JSON.stringify(res)) };
}

export function createRequestStreams(mesh: Mesh, o: RequestStreamsOptions): RequestStreams {
  const { log } = o;
  const frames = framesOn(mesh, log);
  const { send, sendError } = frames;
  const live = new Set<Live>();
  let accepting = true;

  /** Ends a request's stream: no more frames, timer and cancel subscription released. */
  const terminate = (l: Live): boolean => {
    if (l.done) return false;
    l.done = true;
    clearInterval(l.ka);
    if (l.ctl && !l.ctl.isClosed() && !mesh.nc.isClosed()) l.ctl.unsubscribe();
    live.delete(l);
    return true;
  };
  const finish = async (l: Live, res: JsonRpcResponse, acceptClaim: boolean) => {
    if (terminate(l)) await sendResult(mesh, frames, o, l, res, acceptClaim);
  };

  /** Opens a checked request's stream: its cancel subscription and keep-alive timer. */
  const open = (reply: string, req: JsonRpcRequest): Live => {
    const l: Live = { abort: new AbortController(), done: false, reply, id: req.id };
    live.add(l);
    l.ctl = mesh.nc.subscribe(subjects.mcpControl(reply), {
      max: 1,
      callback: () => {
        if (terminate(l)) send(reply, Frame.End); // empty end: cancelled, no response exists
        l.abort.abort(new ToolsError(ToolsErrorCode.Cancelled, "the caller cancelled the request"));
      },
    });
    l.ka = setInterval(() => send(reply, Frame.KeepAlive), o.keepAliveMs);
    return l;
  };

  const onRequest = (msg: Msg) => {
    const reply = msg.reply;
    if (!reply) return; // a publish without a reply subject asks nothing
    const parsed = parseMcpSubject(msg.subject);
    if (!parsed) return sendError(reply, errorResponse(null, McpCode.InvalidRequest, `'${msg.subject}' is not an MCP request subject`));
    if (!accepting)
      return sendError(
        reply,
        errorResponse(null, McpCode.StreamLost, `tool server '${o.server}' on ${o.host} is shutting down; re-issue the request`),
      );
    const checked = checkInbound(parsed, msg.headers, msg.data);
    if (!checked.ok) return sendError(reply, errorResponse(checked.id, checked.code, checked.message, checked.data));
    const req = checked.request;
    const l = open(reply, req);
    const acceptClaim = msg.headers?.get(McpHeader.AcceptClaim) === "1";
    void answer(o, req, parsed, msg.headers?.get("traceparent"), l, (n) => {
      if (!l.done) send(reply, Frame.Msg, JSON.stringify(n));
    })
      .then((res) => finish(l, res, acceptClaim))
      .catch((err: unknown) => {
        // finish() itself failed (a result that cannot be serialized): the caller still gets an end.
        log.error({ err }, "could not send a result");
        sendError(reply, errorResponse(req.id, McpCode.Internal, `tool server '${o.server}' could not send its result`));
      });
  };

  return {
    onRequest,
    inFlight: () => live.size,
    refuse: () => {
      accepting = false;
    },
    endAll(why) {
      for (const l of [...live]) {
        if (terminate(l)) sendError(l.reply, errorResponse(l.id, McpCode.StreamLost, `${why}; re-issue the request`));
        l.abort.abort(new ToolsError(ToolsErrorCode.Stopped, why));
      }
    },
  };
}

/** Runs the handler in the request's span (a thrown error becomes -32603) and logs the answer. */
async function answer(
  o: RequestStreamsOptions,
  req: JsonRpcRequest,
  parsed: McpSubject,
  traceparent: string | undefined,
  l: Live,
  notify: McpRequestContext["notify"],
): Promise<JsonRpcResponse> {
  // The caller's traceparent continues here; a tools/call is logged with its trace id.
  const name = typeof req.params?.name === "string" ? req.params.name : undefined;
  const span = tracer().start(`mcp ${req.method}${name ? ` ${name}` : ""}`, traceparent, {
    kind: "server",
    attributes: { "mcp.method.name": req.method, "lyra.tool.server": o.server, "lyra.tool": name, "lyra.caller": parsed.user },
  });
  const started = Date.now();
  const ctx: McpRequestContext = {
    signal: l.abort.signal,
    notify,
    tenant: parsed.tenant,
    user: parsed.user,
    traceparent: span.traceparent,
  };
  const res = await o
    .handler(req, ctx)
    .catch((err: unknown) =>
      errorResponse(req.id, McpCode.Internal, `tool server '${o.server}' failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  const error = "error" in res ? res.error.message : undefined;
  span.end(error);
  const fields = {
    trace_id: span.traceId,
    method: req.method,
    tool: name,
    caller: parsed.user,
    ms: Date.now() - started,
    ...(error ? { error } : {}),
  };
  if (req.method === "tools/call") o.log.info(fields, "tool call answered");
  else o.log.debug(fields, "mcp request answered");
  return res;
}

/** The `end` frame with the result, or through the claim-check store when it is over max_payload and the caller accepts that. */
async function sendResult(
  mesh: Mesh,
  { send, sendError }: Frames,
  o: RequestStreamsOptions,
  l: Live,
  res: JsonRpcResponse,
  acceptClaim: boolean,
): Promise<void> {
  const body = new TextEncoder().encode(JSON.stringify(res));
  // Headers and protocol overhead ride on top of the body: keep 1 KiB for them.
  if (body.length + 1024 <= mesh.maxPayload()) return send(l.reply, Frame.End, body);
  if (!acceptClaim) {
    return sendError(
      l.reply,
      errorResponse(
        l.id,
        McpCode.PayloadTooLarge,
        `the result is ${body.length} bytes, over the NATS max_payload of ${mesh.maxPayload()}; ` +
          `send Mcp-Accept-Claim: 1 to receive it through the claim-check store`,
      ),
    );
  }
  try {
    const claim = await putClaim(mesh, o.tenant, body, o.claimMaxAgeMs);
    send(l.reply, Frame.End, undefined, { [McpHeader.Claim]: claim.id, [McpHeader.ClaimDigest]: claim.sha256 });
  } catch (err) {
    o.log.warn({ err }, "claim-check store refused the result");
    sendError(
      l.reply,
      errorResponse(
        l.id,
        McpCode.PayloadTooLarge,
        `the result is ${body.length} bytes and the claim-check store refused it: ${(err as Error).message}`,
      ),
    );
  }
}
