/**
 * Python sessions, one sandbox per conversation (off unless `sessions: true`): variables live
 * between calls, calls in one session run in order, an idle session is ended, and at most
 * max_sessions live at once (the least recently used idle one makes room).
 */
import type { ComputeOptions } from "./options.ts";
import { startSandbox, type RunOutcome, type Sandbox } from "./sandbox.ts";

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
  close(): void;
}

export function sessionPool(o: ComputeOptions): SessionPool {
  const sessions = new Map<string, Session>();

  const end = (key: string) => {
    const s = sessions.get(key);
    if (!s) return;
    clearTimeout(s.idle);
    s.box.kill();
    sessions.delete(key);
  };

  const makeRoom = () => {
    if (sessions.size < o.max_sessions) return true;
    let oldest: [string, Session] | undefined;
    for (const e of sessions) if (e[1].busy === 0 && (!oldest || e[1].lastUsed < oldest[1].lastUsed)) oldest = e;
    if (!oldest) return false;
    end(oldest[0]);
    return true;
  };

  return {
    async run(key, code, { fresh, signal }) {
      if (fresh) end(key);
      let s = sessions.get(key);
      if (s && !s.box.alive) {
        end(key);
        s = undefined;
      }
      const started = !s;
      if (!s) {
        if (!makeRoom()) return { output: "", ok: false, error: `all ${o.max_sessions} Python sessions are busy; try again shortly`, started: false };
        s = { box: startSandbox(o, true), tail: Promise.resolve(), busy: 0, lastUsed: Date.now() };
        sessions.set(key, s);
      }
      const session = s;
      clearTimeout(session.idle);
      session.busy++;
      const result = session.tail.then(() => session.box.run(code, signal));
      session.tail = result.catch(() => {});
      try {
        const r = await result;
        if (r.ended) end(key);
        return { ...r, started };
      } finally {
        session.busy--;
        session.lastUsed = Date.now();
        if (session.busy === 0 && sessions.get(key) === session) {
          session.idle = setTimeout(() => end(key), o.session_idle_s * 1000);
          session.idle.unref();
        }
      }
    },
    size: () => sessions.size,
    close: () => {
      for (const key of [...sessions.keys()]) end(key);
    },
  };
}
