/**
 * What an upstream server says besides responses: progress notifications, routed to the call that
 * asked for them, and the events ("up", "tools_changed") its listeners hear.
 */
import type { UpstreamAttempt, UpstreamEvent } from "./upstream.ts";

export interface UpstreamEvents {
  onProgress: (token: string, fn: (params: Record<string, unknown>) => void) => () => void;
  onEvent: (fn: (e: UpstreamEvent) => void) => void;
  emit: (e: UpstreamEvent) => void;
  /** Routes a connected transport's notifications here before the SDK client sees them. */
  tap: (transport: UpstreamAttempt["transport"]) => void;
}

export function createUpstreamEvents(): UpstreamEvents {
  const progress = new Map<string, (params: Record<string, unknown>) => void>();
  const listeners: ((e: UpstreamEvent) => void)[] = [];
  const emit = (e: UpstreamEvent) => {
    for (const f of listeners) f(e);
  };
  return {
    onProgress(token, fn) {
      progress.set(token, fn);
      return () => progress.delete(token);
    },
    onEvent: (fn) => void listeners.push(fn),
    emit,
    tap(t) {
      const deliver = t.onmessage;
      t.onmessage = (msg, extra) => {
        const m = msg as { method?: string; params?: { progressToken?: unknown } };
        const fn = m.method === "notifications/progress" ? progress.get(String(m.params?.progressToken)) : undefined;
        if (fn) return fn(m.params as Record<string, unknown>);
        if (m.method === "notifications/tools/list_changed") emit("tools_changed");
        deliver?.(msg, extra);
      };
    },
  };
}
