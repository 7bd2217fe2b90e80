/**
 * The one lifecycle of everything long-lived (conventions: "Resources and time"): `close()` stops
 * now, `drain()` (where an orderly stop means something) finishes in-flight work and takes no new,
 * `closed()` resolves once stopped and never rejects, and `[Symbol.asyncDispose]` is close().
 * Whichever of close/drain/dispose comes first does the stopping; a later call waits for it, so
 * disposing twice is safe.
 */

/** A long-lived thing that only stops. */
export interface Closable extends AsyncDisposable {
  /** Stops now and releases everything; a second call waits for the first. */
  close(): Promise<void>;
  /** Resolves once stopped (after close() or drain(), or after it stopped on its own); never rejects. */
  closed(): Promise<void>;
}

/** A long-lived thing whose orderly stop finishes in-flight work. */
export interface Drainable extends Closable {
  /** Takes no new work, lets in-flight work finish (within a grace period where it has one), then stops. */
  drain(): Promise<void>;
}

/** A Drainable's methods as plain functions: they need no `this`, so they can be taken apart and spread. */
export interface Lifecycle<A extends unknown[] = []> {
  close: () => Promise<void>;
  drain: (...args: A) => Promise<void>;
  closed: () => Promise<void>;
  [Symbol.asyncDispose]: () => Promise<void>;
}

export interface Stops<A extends unknown[] = []> {
  close: () => Promise<void> | void;
  /** The orderly stop (its arguments: a grace period...); without it drain() is close(). */
  drain?: (...args: A) => Promise<void> | void;
  /** Runs at every close() (dispose too), before it joins a stop in progress: cuts a drain short. */
  cut?: () => void;
}

/**
 * The lifecycle methods of an object, from its stop functions: the first call runs, later calls
 * (of either) return the same promise; closed() settles with it but swallows its failure (the
 * caller of close/drain sees that).
 */
export function lifecycle<A extends unknown[] = []>(stops: Stops<A>): Lifecycle<A> {
  let stopping: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const done = new Promise<void>((r) => (resolveClosed = r));
  const run = (stop: () => Promise<void> | void) =>
    (stopping ??= (async () => {
      try {
        await stop();
      } finally {
        resolveClosed();
      }
    })());
  const close = () => {
    stops.cut?.();
    return run(stops.close);
  };
  return {
    close,
    drain: (...args: A) => run(stops.drain ? () => stops.drain!(...args) : stops.close),
    closed: () => done,
    [Symbol.asyncDispose]: close,
  };
}
