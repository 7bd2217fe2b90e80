/**
 * A supervised connection to an existing MCP server (stdio child or Streamable HTTP) through the
 * SDK's own `Client`, which negotiates whatever revision the server speaks (2025-era included).
 * It restarts the server with backoff when it dies, fails the calls it had in flight at once (the
 * caller re-issues), and answers calls made while it is down straight away: never a hang.
 */
import type { Client } from "@modelcontextprotocol/client";
import type { Logger } from "../mesh/logger.ts";
import { createBackoff, type BackoffOptions } from "./backoff.ts";
import { ToolsError } from "./errors.ts";

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

export function superviseUpstream(o: UpstreamOptions): Upstream {
  const backoff = createBackoff(o.backoff);
  const startTimeoutMs = o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let state: ServerState = ServerState.Starting;
  let error: string | undefined;
  let lastError: string | undefined;
  let restarts = 0;
  let retryAt: number | undefined;
  let gen = 0;
  let live: Live | undefined;
  let starting: UpstreamAttempt | undefined;
  let closed = false;
  let wake: (() => void) | undefined;
  let cancelStart: (() => void) | undefined;
  const progress = new Map<string, (params: Record<string, unknown>) => void>();
  const listeners: ((e: UpstreamEvent) => void)[] = [];
  const emit = (e: UpstreamEvent) => {
    for (const f of listeners) f(e);
  };
  let firstDone!: () => void;
  const firstAttempt = new Promise<void>((r) => (firstDone = r));

  // What a server printed stays in this host's log: errors go out in heartbeats, $SRV.STATS and
  // -32010 answers (so to models and the conversation log), and stderr may hold secrets.
  const seeLog = `see the lyra tools log on ${o.host ?? "this host"}`;
  const stderrOf = (a: UpstreamAttempt) => a.stderrTail?.().trim() || undefined;

  // Backoff waits end at once on close(), so a stop never waits out a 30 s delay.
  const sleep = (ms: number) =>
    closed
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const t = setTimeout(() => ((wake = undefined), resolve()), ms);
          wake = () => (clearTimeout(t), (wake = undefined), resolve());
        });

  const start = async (attempt: UpstreamAttempt): Promise<Live> => {
    starting = attempt;
    const l: Live = { attempt, lost: new Set() };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        attempt.client.connect(attempt.transport),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer to initialize within ${startTimeoutMs} ms`)), startTimeoutMs);
          cancelStart = () => reject(new Error("lyra tools is shutting down"));
        }),
      ]);
    } catch (err) {
      await attempt.client.close().catch(() => undefined);
      throw new ToolsError("upstream_start", (err as Error).message, { cause: err });
    } finally {
      clearTimeout(timer);
      starting = undefined;
      cancelStart = undefined;
    }
    return l;
  };

  const loop = async () => {
    while (!closed) {
      const began = Date.now();
      let l: Live;
      let attempt: UpstreamAttempt | undefined;
      try {
        attempt = o.connect();
        l = await start(attempt);
      } catch (err) {
        // close() cut the start short: not a failure, and nothing to wait for.
        if (closed) break;
        state = ServerState.Failed;
        const stderr = attempt && stderrOf(attempt);
        error = `could not start ${o.target}: ${(err as Error).message}${stderr ? `; ${seeLog}` : ""}`;
        const delay = backoff.next(0);
        retryAt = Date.now() + delay;
        // Said once at warn; the same failure again (every backoff step) only at debug.
        const level = error === lastError ? "debug" : "warn";
        lastError = error;
        o.log[level]({ err: (err as Error).message, stderr, retryInMs: delay }, `tool server '${o.server}' failed to start`);
        firstDone();
        await sleep(delay);
        continue;
      }
      if (closed) {
        await l.attempt.client.close().catch(() => undefined);
        break;
      }
      const ended = new Promise<void>((resolve) => (l.attempt.client.onclose = () => resolve()));
      const t = l.attempt.transport;
      const deliver = t.onmessage;
      t.onmessage = (msg, extra) => {
        const m = msg as { method?: string; params?: { progressToken?: unknown } };
        const fn = m.method === "notifications/progress" ? progress.get(String(m.params?.progressToken)) : undefined;
        if (fn) return fn(m.params as Record<string, unknown>);
        if (m.method === "notifications/tools/list_changed") emit("tools_changed");
        deliver?.(msg, extra);
      };
      live = l;
      gen++;
      state = ServerState.Up;
      error = undefined;
      retryAt = undefined;
      lastError = undefined;
      o.log.info({ pid: l.attempt.pid?.() }, `tool server '${o.server}' up (${o.target})`);
      firstDone();
      emit("up");
      await ended;
      live = undefined;
      const stderr = stderrOf(l.attempt);
      const why = `tool server '${o.server}' (${o.target}) exited`;
      for (const f of l.lost) f(why);
      if (closed) break;
      restarts++;
      const delay = backoff.next(Date.now() - began);
      state = ServerState.Restarting;
      error = `${why}; ${seeLog}`;
      retryAt = Date.now() + delay;
      o.log.warn({ restarts, stderr, retryInMs: delay }, `${why}; restarting`);
      await sleep(delay);
    }
    state = ServerState.Stopped;
    firstDone();
  };
  const running = loop();

  const retryIn = () => (retryAt === undefined ? 1 : Math.max(1, Math.ceil((retryAt - Date.now()) / 1000)));
  const downError = () => {
    const msg =
      state === ServerState.Failed
        ? `tool server '${o.server}' is not running: ${error}; next start in ${retryIn()} s`
        : state === ServerState.Restarting
          ? `tool server '${o.server}' is restarting after it exited; retry in ${retryIn()} s`
          : state === ServerState.Stopped
            ? `tool server '${o.server}' is stopped (lyra tools is shutting down)`
            : `tool server '${o.server}' is starting; retry in a moment`;
    return new ToolsError("upstream_down", msg);
  };

  return {
    server: o.server,
    firstAttempt,
    status: () => ({ state, error, restarts, pid: live?.attempt.pid?.(), retryAt }),
    generation: () => gen,
    client: () => live?.attempt.client,
    onEvent: (fn) => void listeners.push(fn),
    onProgress(token, fn) {
      progress.set(token, fn);
      return () => progress.delete(token);
    },
    run(fn) {
      const l = live;
      if (!l || state !== ServerState.Up) return Promise.reject(downError());
      return new Promise((resolve, reject) => {
        const onLost = (why: string) =>
          reject(
            new ToolsError("upstream_down", `${why} while the call was in flight (${seeLog}); it is restarting: re-issue the request`),
          );
        l.lost.add(onLost);
        fn(l.attempt.client)
          .then(resolve, reject)
          .finally(() => l.lost.delete(onLost));
      });
    },
    async close() {
      closed = true;
      wake?.();
      cancelStart?.();
      // A start in progress is cut short: its connect then fails and the loop ends.
      await starting?.client.close().catch(() => undefined);
      const l = live;
      if (l) await l.attempt.client.close().catch(() => undefined);
      await running;
    },
  };
}
