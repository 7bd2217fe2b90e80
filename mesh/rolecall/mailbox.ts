/**
 * A single-consumer queue with bounded waits, so every wait of a call is bounded by its deadline
 * and interruptible by cancel or close.
 */
export interface Mailbox<T> {
  push(item: T): void;
  /** Every current and later wait rejects with `err` (first failure wins). */
  fail(err: Error): void;
  /** The next item, or undefined when `ms` pass first. */
  take(ms: number): Promise<T | undefined>;
  /** Waits `ms` (dropping items), still interruptible by fail(). */
  sleep(ms: number): Promise<void>;
  readonly failure: Error | undefined;
}

export function createMailbox<T>(): Mailbox<T> {
  const items: T[] = [];
  let failure: Error | undefined;
  let waiter: { resolve: (v: T | undefined) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;

  const settle = (fn: (w: NonNullable<typeof waiter>) => void) => {
    const w = waiter;
    if (!w) return;
    waiter = undefined;
    clearTimeout(w.timer);
    fn(w);
  };
  const take = (ms: number): Promise<T | undefined> => {
    if (failure) return Promise.reject(failure);
    if (items.length > 0) return Promise.resolve(items.shift());
    if (ms <= 0) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const w: NonNullable<typeof waiter> = {
        resolve,
        reject,
        // Timers run before I/O in an event-loop turn: when the time is up, let I/O that is already
        // there in first, so a message received during a stall of this process is not a timeout.
        timer: setTimeout(() => {
          setImmediate(() => {
            if (waiter === w) settle((x) => x.resolve(undefined));
          });
        }, ms),
      };
      waiter = w;
    });
  };
  return {
    push(item) {
      if (failure) return;
      if (waiter) settle((w) => w.resolve(item));
      else items.push(item);
    },
    fail(err) {
      if (failure) return;
      failure = err;
      items.length = 0;
      settle((w) => w.reject(err));
    },
    take,
    async sleep(ms) {
      const until = Date.now() + ms;
      for (let left = ms; left > 0; left = until - Date.now()) await take(left);
    },
    get failure() {
      return failure;
    },
  };
}
