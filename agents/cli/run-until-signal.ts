/**
 * How every long-running command stops: on SIGINT/SIGTERM its services stop in reverse start order,
 * each drained (an orderly stop) where it can be, else closed. A drain gets a grace period, and a
 * second signal cuts every drain short with close().
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../mesh/index.ts";
import { watchSignals, type StopSignals } from "./config.ts";

/** What a command stops: drain() when it has one, else close(). Objects of mesh/lifecycle.ts fit as they are. */
export interface Stoppable {
  close: () => Promise<void> | void;
  drain?: () => Promise<void>;
}

/** How long one service's drain may take before close() cuts it short. */
export const DEFAULT_STOP_GRACE_MS = 60_000;

export interface RunUntilSignalOptions {
  /** The watch installed before anything started (watchSignals()); default: one installed now. */
  signals?: StopSignals;
  /** The log line when the signal comes; default "shutting down". */
  message?: string;
  /** More fields on that line. */
  fields?: object;
  /** Per service, default DEFAULT_STOP_GRACE_MS. */
  graceMs?: number;
}

/** Waits for the first signal, then stops `services` (given in start order) in reverse. Returns the signal. */
export async function runUntilSignal(services: Stoppable[], log: Logger, o: RunUntilSignalOptions = {}): Promise<NodeJS.Signals> {
  const signal = await (o.signals ?? watchSignals()).received;
  log.info({ signal, ...o.fields }, o.message ?? "shutting down");
  await stopInOrder(services, log, o.graceMs);
  return signal;
}

/**
 * Stops `services` (given in start order) in reverse: drain (within graceMs) or close, one after
 * the other. One that fails does not keep the others running: the first failure is thrown at the end.
 */
export async function stopInOrder(services: Stoppable[], log: Logger, graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
  const forced = secondSignal();
  let failure: { err: unknown } | undefined;
  try {
    for (const s of [...services].reverse()) {
      try {
        await stopOne(s, forced.received, graceMs, log);
      } catch (err) {
        failure ??= { err };
      }
    }
  } finally {
    forced.off();
  }
  if (failure) throw failure.err;
}

async function stopOne(s: Stoppable, forced: Promise<void>, graceMs: number, log: Logger): Promise<void> {
  if (!s.drain) return void (await s.close());
  const drained = s.drain();
  const cut = new AbortController();
  const late = Promise.race([forced, sleep(graceMs, undefined, { signal: cut.signal, ref: false })]).then(
    () => {
      log.warn("stopping: a drain is cut short (second signal or grace period over)");
      return s.close();
    },
    () => undefined, // the drain ended first
  );
  try {
    await drained;
  } finally {
    cut.abort(); // late settles at once now, unless it is already closing
    await late;
  }
}

/** The next SIGINT/SIGTERM while stopping: it forces close() instead of killing the process. */
function secondSignal(): { received: Promise<void>; off: () => void } {
  let resolve!: () => void;
  const received = new Promise<void>((r) => (resolve = r));
  const on = () => resolve();
  process.once("SIGINT", on);
  process.once("SIGTERM", on);
  return {
    received,
    off: () => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
}
