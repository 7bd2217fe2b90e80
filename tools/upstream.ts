/**
 * A supervised connection to an existing MCP server (stdio child or Streamable HTTP) through the
 * SDK's own `Client`, which negotiates whatever revision the server speaks (2025-era included).
 * It restarts the server with backoff when it dies, fails the calls it had in flight at once (the
 * caller re-issues), and answers calls made while it is down straight away: never a hang.
 */
import type { Client } from "@modelcontextprotocol/client";
import type { Logger } from "../mesh/index.ts";
import { createBackoff, type BackoffOptions } from "./backoff.ts";
import { ToolsError, ToolsErrorCode } from "./errors.ts";
import { createUpstreamEvents, type UpstreamEvents } from "./upstream-events.ts";
import { createStartGate, type StartGate } from "./upstream-gate.ts";

export const ServerState = {
  Starting: "starting",
  Up: "up",
  /** It ran and died; the next start is scheduled. */
  Restarting: "restarting",
  /** Its last start failed (bad command, exited at once, no answer); retried with backoff. */
  Failed: "failed",
  Stopped: "stopped",
} as const;
export type ServerState = (typeof ServerState)[keyof typeof ServerState];

/** One not-yet-connected attempt: the SDK client, its transport, and what the server printed. */
export interface UpstreamAttempt {
  client: Client;
  transport: Parameters<Client["connect"]>[0];
  pid?: () => number | undefined;
  /** The last lines the server wrote to stderr, for the local log only (never on the mesh). */
  stderrTail?: () => string;
}

export interface UpstreamOptions {
  server: string;
  /** What it is, for messages: "command 'npx x'" or "http://...". */
  target: string;
  connect: () => UpstreamAttempt;
  log: Logger;
  /** This machine's name, for messages that point at its log; default "this host". */
  host?: string;
  backoff?: BackoffOptions;
  /** How long a start (spawn + initialize) may take, ms; default 30000. */
  startTimeoutMs?: number;
}

export interface UpstreamStatus {
  state: ServerState;
  error?: string;
  restarts: number;
  pid?: number;
  /** When the next start is due (restarting, failed). */
  retryAt?: number;
}

export interface Upstream {
  readonly server: string;
  status(): UpstreamStatus;
  /** Settles once the first start attempt has (up or failed). */
  readonly firstAttempt: Promise<void>;
  /** Bumped at every successful (re)connect, so caches of the server's answers can tell. */
  generation(): number;
  /** The live client; undefined while down. */
  client(): Client | undefined;
  /**
   * Delivers the server's progress notifications for `token` to `fn`, in order with the
   * response. (The SDK client runs notification handlers a microtask late, after a response
   * that came in the same read, so the last progress of a call would be lost.)
   */
  onProgress(token: string, fn: (params: Record<string, unknown>) => void): () => void;
  /** Called when the server comes up (again) and when it says its tool list changed. */
  onEvent(fn: (e: UpstreamEvent) => void): void;
  /** Runs `fn` on the live client; rejects with ToolsError('upstream_down') when down or lost meanwhile. */
  run<T>(fn: (c: Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type UpstreamEvent = "up" | "tools_changed";

export const DEFAULT_START_TIMEOUT_MS = 30_000;

interface Live {
  attempt: UpstreamAttempt;
  lost: Set<(why: string) => void>;
}

/** What the supervisor knows of the server now: the loop writes it, status() and run() read it. */
interface Supervision {
  state: ServerState;
  error?: string;
  /** The last start failure logged at warn, so the same one again is only logged at debug. */
  lastError?: string;
  restarts: number;
  retryAt?: number;
  gen: number;
  live?: Live;
}

export function superviseUpstream(o: UpstreamOptions): Upstream {
  const s: Supervision = { state: ServerState.Starting, restarts: 0, gen: 0 };
  const gate = createStartGate();
  const events = createUpstreamEvents();
  let firstDone!: () => void;
  const firstAttempt = new Promise<void>((r) => (firstDone = r));
  const running = superviseLoop(o, s, gate, events, firstDone);

  return {
    server: o.server,
    firstAttempt,
    status: () => ({ state: s.state, error: s.error, restarts: s.restarts, pid: s.live?.attempt.pid?.(), retryAt: s.retryAt }),
    generation: () => s.gen,
    client: () => s.live?.attempt.client,
    onEvent: events.onEvent,
    onProgress: events.onProgress,
    run(fn) {
      const l = s.live;
      if (!l || s.state !== ServerState.Up) return Promise.reject(downError(o.server, s));
      return new Promise((resolve, reject) => {
        const onLost = (why: string) =>
          reject(
            new ToolsError(
              ToolsErrorCode.UpstreamDown,
              `${why} while the call was in flight (${seeLog(o)}); it is restarting: re-issue the request`,
            ),
          );
        l.lost.add(onLost);
        fn(l.attempt.client)
          .then(resolve, reject)
          .finally(() => l.lost.delete(onLost));
      });
    },
    async close() {
      await gate.close();
      const l = s.live;
      if (l) await l.attempt.client.close().catch(() => undefined);
      await running;
    },
  };
}

// What a server printed stays in this host's log: errors go out in heartbeats, $SRV.STATS and
// -32010 answers (so to models and the conversation log), and stderr may hold secrets.
const seeLog = (o: UpstreamOptions) => `see the lyra tools log on ${o.host ?? "this host"}`;
const stderrOf = (a: UpstreamAttempt) => a.stderrTail?.().trim() || undefined;

/** Starts the server, waits for it to exit, and starts it again with backoff, until the gate closes. */
async function superviseLoop(o: UpstreamOptions, s: Supervision, gate: StartGate, events: UpstreamEvents, firstDone: () => void) {
  const backoff = createBackoff(o.backoff);
  const startTimeoutMs = o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  while (!gate.closed()) {
    const began = Date.now();
    let l: Live;
    let attempt: UpstreamAttempt | undefined;
    try {
      attempt = o.connect();
      l = { attempt: await gate.start(attempt, startTimeoutMs), lost: new Set() };
    } catch (err) {
      // close() cut the start short: not a failure, and nothing to wait for.
      if (gate.closed()) break;
      const delay = failedStart(o, s, err as Error, attempt, backoff.next(0));
      firstDone();
      await gate.sleep(delay);
      continue;
    }
    if (gate.closed()) {
      await l.attempt.client.close().catch(() => undefined);
      break;
    }
    const ended = new Promise<void>((resolve) => (l.attempt.client.onclose = () => resolve()));
    events.tap(l.attempt.transport);
    s.live = l;
    s.gen++;
    s.state = ServerState.Up;
    s.error = undefined;
    s.retryAt = undefined;
    s.lastError = undefined;
    o.log.info({ pid: l.attempt.pid?.() }, `tool server '${o.server}' up (${o.target})`);
    firstDone();
    events.emit("up");
    await ended;
    s.live = undefined;
    const why = `tool server '${o.server}' (${o.target}) exited`;
    for (const f of l.lost) f(why);
    if (gate.closed()) break;
    s.restarts++;
    const delay = backoff.next(Date.now() - began);
    s.state = ServerState.Restarting;
    s.error = `${why}; ${seeLog(o)}`;
    s.retryAt = Date.now() + delay;
    o.log.warn({ restarts: s.restarts, stderr: stderrOf(l.attempt), retryInMs: delay }, `${why}; restarting`);
    await gate.sleep(delay);
  }
  s.state = ServerState.Stopped;
  firstDone();
}

/** Records a failed start; returns `delay`, the wait before the next one. */
function failedStart(o: UpstreamOptions, s: Supervision, err: Error, attempt: UpstreamAttempt | undefined, delay: number): number {
  s.state = ServerState.Failed;
  const stderr = attempt && stderrOf(attempt);
  s.error = `could not start ${o.target}: ${err.message}${stderr ? `; ${seeLog(o)}` : ""}`;
  s.retryAt = Date.now() + delay;
  // Said once at warn; the same failure again (every backoff step) only at debug.
  const level = s.error === s.lastError ? "debug" : "warn";
  s.lastError = s.error;
  o.log[level]({ err: err.message, stderr, retryInMs: delay }, `tool server '${o.server}' failed to start`);
  return delay;
}

/** Why a call cannot run now, with when to retry. */
function downError(server: string, s: Supervision): ToolsError {
  const retryIn = () => (s.retryAt === undefined ? 1 : Math.max(1, Math.ceil((s.retryAt - Date.now()) / 1000)));
  const msg =
    s.state === ServerState.Failed
      ? `tool server '${server}' is not running: ${s.error}; next start in ${retryIn()} s`
      : s.state === ServerState.Restarting
        ? `tool server '${server}' is restarting after it exited; retry in ${retryIn()} s`
        : s.state === ServerState.Stopped
          ? `tool server '${server}' is stopped (lyra tools is shutting down)`
          : `tool server '${server}' is starting; retry in a moment`;
  return new ToolsError(ToolsErrorCode.UpstreamDown, msg);
}
