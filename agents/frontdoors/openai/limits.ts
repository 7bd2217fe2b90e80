/**
 * What a slow or greedy client may hold: node:http's header, request and keep-alive timeouts (its
 * defaults are 60 s, 300 s and 5 s, checked every 30 s) and a cap on open connections.
 */
import type { Server, ServerOptions } from "node:http";
import type { Logger } from "../../../mesh/index.ts";

export interface ConnectionLimits {
  /** Time a client has to send the request's headers, ms; default 10000. */
  headerTimeoutMs?: number;
  /** Time a client has to send the whole request (headers and body), ms; default 30000. Not the answer's time: that is timeoutMs. */
  bodyTimeoutMs?: number;
  /** Time a keep-alive connection may sit idle between requests, ms; default 5000. */
  idleTimeoutMs?: number;
  /** Open connections at most; past it new ones are closed at once; default 1024. */
  maxConnections?: number;
}

export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** At most one warning this often while connections are refused, ms. */
const REFUSED_LOG_EVERY_MS = 10_000;

/** node:http server options for the limits; throws when the header timeout is longer than the body timeout (node refuses it). */
export function serverOptions(l: ConnectionLimits): ServerOptions {
  const headersTimeout = l.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  const requestTimeout = l.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  if (headersTimeout > requestTimeout)
    throw new Error(
      `serve.header_timeout (${headersTimeout} ms) is longer than serve.body_timeout (${requestTimeout} ms), ` +
        `which covers the headers too; make header_timeout the shorter`,
    );
  return {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: l.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    // node checks the two timeouts only this often (30 s by default), so a small timeout needs a small interval.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 2))),
    // No socket inactivity timeout: a committee answer that does not stream is silent until it comes (serve.timeout).
  };
}

/** Caps the server's connections: node closes the ones past it at once; a warning says so, at most every 10 s. */
export function capConnections(server: Server, max: number | undefined, log: Logger): void {
  server.maxConnections = max ?? DEFAULT_MAX_CONNECTIONS;
  let refused = 0;
  let warnedAt = -Infinity;
  server.on("drop", () => {
    refused++;
    if (performance.now() - warnedAt < REFUSED_LOG_EVERY_MS) return;
    warnedAt = performance.now();
    log.warn(
      { refused, maxConnections: server.maxConnections },
      "connections refused: serve.max_connections are open; raise it, or find the client that holds them",
    );
    refused = 0;
  });
}
