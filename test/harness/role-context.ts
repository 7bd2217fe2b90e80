import { silentLogger, type RoleContext } from "../../mesh/index.ts";

/** What a role handler gets for a request, for calling a handler directly (no NATS, no responder). */
export function roleContext(o: { requestId?: string; timeoutMs?: number } = {}): RoleContext {
  return {
    requestId: o.requestId ?? "r1",
    conversation: undefined,
    deadline: Date.now() + (o.timeoutMs ?? 300_000),
    stream: false,
    signal: new AbortController().signal,
    log: silentLogger,
    headers: undefined,
  };
}
