/**
 * Python sessions, one sandbox per conversation (off unless `sessions: true`): variables live
 * between calls, calls in one session run in order, an idle session is ended, and at most
 * max_sessions live at once (the least recently used idle one makes room).
 */
import type { ComputeOptions } from "./options.ts";
import type { RunOutcome, Sandbox } from "./sandbox.ts";

interface Session {
  box: Sandbox;
  /** The previous call's completion: calls in one session run one after another. */
  tail: Promise<unknown>;
  busy: number;
  lastUsed: number;
  idle?: NodeJS.Timeout;
}

export interface SessionPool {
  /** Runs code in the conversation's session (started on first use); `fresh` ends the old one first. */
  run(key: string, code: string, opts: { fresh?: boolean; signal?: AbortSignal }): Promise<RunOutcome & { started: boolean }>;
  size(): number;
  /** Ends every session; resolves once their processes are gone. */
  close(): Promise<void>;
}

/** `start` makes one session sandbox (startSandbox with the server's cgroup). */
export function sessionPool(o: ComputeOptions, start: () => Sandbox): SessionPool {
  const sessions = new Map<string, Session>();

  /** Ends a session; the promise resolves once its processes (and their memory) are gone. */
  const end = (key: string): Promise<void> => {
    const s = sessions.get(key);
    if (!s) return Promise.resolve();
    clearTimeout(s.idle);
    s.box.kill();
    sessions.delete(key);
    return s.box.exited;
  };

  /** Ends the least recently used idle session; undefined when every one is busy. */
  const makeRoom = (): Promise<void> | undefined => {
    let oldest: [string, Session] | undefined;
    for (const e of sessions) if (e[1].busy === 0 && (!oldest || e[1].lastUsed < oldest[1].lastUsed)) oldest = e;
    return oldest ? end(oldest[0]) : undefined;
  };

  return {
    async run(key, code, { fresh, signal }) {
      // An ended sandbox is gone before a successor starts, so memory_total_mb holds throughout.
      if (fresh) await end(key);
      let s = sessions.get(key);
      if (s && !s.box.alive) {
        await end(key);
        s = sessions.get(key);
      }
      // Other calls may start sessions while this one waits: check the count again after each wait.
      while (!s && sessions.size >= o.max_sessions) {
        const room = makeRoom();
        if (!room)
          return { output: "", ok: false, error: `all ${o.max_sessions} Python sessions are busy; try again shortly`, started: false };
        await room;
        s = sessions.get(key);
      }
      const started = !s;
      if (!s) {
        s = { box: start(), tail: Promise.resolve(), busy: 0, lastUsed: Date.now() };
        sessions.set(key, s);
      }
      const session = s;
      clearTimeout(session.idle);
      session.busy++;
      const result = session.tail.then(() => session.box.run(code, signal));
      session.tail = result.catch(() => {});
      try {
        const r = await result;
        if (r.ended) void end(key);
        return { ...r, started };
      } finally {
        session.busy--;
        session.lastUsed = Date.now();
        if (session.busy === 0 && sessions.get(key) === session) {
          session.idle = setTimeout(() => void end(key), o.session_idle_s * 1000);
          session.idle.unref();
        }
      }
    },
    size: () => sessions.size,
    close: async () => {
      await Promise.all([...sessions.keys()].map(end));
    },
  };
}
