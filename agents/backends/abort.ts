/**
 * One call's AbortController, tied to the caller's signal and a deadline, so a backend can tell
 * "the caller gave up" from "the model was too slow" after the HTTP request has been torn down.
 */
export interface CallControl {
  /** Pass this to the HTTP request. */
  readonly signal: AbortSignal;
  /** Why the call was stopped, if it was. */
  stoppedBy(): "timeout" | "caller" | undefined;
  /** The deadline no longer applies (the first token arrived). */
  disarm(): void;
  /** Aborts the request if it is still open and releases the timer and listener. */
  close(): void;
}

export function callControl(caller: AbortSignal | undefined, timeoutMs: number | undefined): CallControl {
  const ac = new AbortController();
  let stopped: "timeout" | "caller" | undefined;
  const onAbort = () => {
    stopped ??= "caller";
    ac.abort(caller?.reason);
  };
  if (caller?.aborted) onAbort();
  else caller?.addEventListener("abort", onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs !== undefined && !ac.signal.aborted) {
    timer = setTimeout(() => {
      stopped ??= "timeout";
      ac.abort(new Error(`deadline of ${timeoutMs} ms passed`));
    }, timeoutMs);
  }
  return {
    signal: ac.signal,
    stoppedBy: () => stopped,
    disarm: () => clearTimeout(timer),
    close: () => {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onAbort);
      if (!ac.signal.aborted) ac.abort(new Error("call finished"));
    },
  };
}

/** A fetch whose every request is also aborted by `signal` (clients that take no signal per call). */
export function fetchWithSignal(base: typeof fetch, signal: AbortSignal): typeof fetch {
  return (input, init) => {
    const signals = init?.signal ? [init.signal, signal] : [signal];
    return base(input, { ...init, signal: AbortSignal.any(signals) });
  };
}

const GONE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** True when an error (or its causes) says the server could not be reached or hung up. */
export function isConnectionError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && GONE.has(code)) return true;
    if (e instanceof AggregateError && e.errors.some((x) => isConnectionError(x))) return true;
    if (e.message === "fetch failed" || e.message === "terminated" || e.message === "other side closed") return true;
  }
  return false;
}

/** Milliseconds since `start` (a performance.now() reading), rounded to 0.1 ms. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}
