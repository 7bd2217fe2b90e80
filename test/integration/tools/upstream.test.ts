/** The supervisor of a bridged server stops promptly whatever it is doing: starting, or waiting out a backoff. */
import { describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { createLogger } from "../../../mesh/logger.ts";
import { describeTarget, stdioConnector } from "../../../tools/connectors.ts";
import { ServerState, superviseUpstream } from "../../../tools/upstream.ts";

/** Generous: a stall is a backoff (30 s) or a start timeout (60 s), not seconds. */
const PROMPT_MS = 5_000;

function supervise(script: string) {
  const lines: string[] = [];
  const cfg = { command: process.execPath, args: ["-e", script], env: {} };
  const up = superviseUpstream({
    server: "slow",
    target: describeTarget(cfg),
    connect: stdioConnector("slow", cfg, {}),
    log: createLogger({ level: "debug", destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) }),
    backoff: { initialMs: 30_000, maxMs: 30_000 },
    startTimeoutMs: 60_000,
  });
  return { up, lines };
}

async function closesWithin(close: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const ok = await Promise.race([close.then(() => true as const), late]);
  clearTimeout(timer);
  return ok;
}

describe("closing a supervised upstream", () => {
  it("during a slow start returns promptly, stopped, without a false 'failed to start'", async () => {
    // Spawns, then never answers initialize.
    const { up, lines } = supervise("setInterval(() => {}, 1000)");
    await new Promise((r) => setTimeout(r, 300));
    expect(up.status().state).toBe(ServerState.Starting);
    const close = up.close();
    expect(await closesWithin(close, PROMPT_MS)).toBe(true);
    await close;
    expect(up.status().state).toBe(ServerState.Stopped);
    expect(lines.some((l) => l.includes("failed to start"))).toBe(false);
    await up.firstAttempt;
  });

  it("while it waits out the backoff after a failed start returns promptly", async () => {
    const { up } = supervise("process.exit(3)");
    await up.firstAttempt;
    expect(up.status().state).toBe(ServerState.Failed);
    const close = up.close();
    expect(await closesWithin(close, PROMPT_MS)).toBe(true);
    await close;
    expect(up.status().state).toBe(ServerState.Stopped);
  });
});
