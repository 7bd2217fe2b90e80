/**
 * One streamed reply: the newest text is written at most once per `intervalMs` (Discord allows
 * about one edit a second per message); text that arrives in between replaces what waits, so a
 * slow Discord never builds a backlog of edits.
 */
export interface StreamEditor {
  /** The whole text to show now. */
  update(text: string): void;
  /** Stops editing; resolves when the write in flight (if any) has ended. */
  close(): Promise<void>;
}

export function streamEditor(write: (text: string) => Promise<void>, intervalMs: number, onError: (err: unknown) => void): StreamEditor {
  let latest: string | undefined;
  let shown: string | undefined;
  let busy: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  let stopped = false;
  const kick = (): void => {
    if (stopped || busy || timer || latest === undefined || latest === shown) return;
    const wait = last + intervalMs - Date.now();
    if (wait > 0) {
      timer = setTimeout(() => {
        timer = undefined;
        kick();
      }, wait);
      return;
    }
    const text = latest;
    last = Date.now();
    busy = write(text)
      .then(() => void (shown = text), onError)
      .finally(() => {
        busy = undefined;
        kick();
      });
  };
  return {
    update(text) {
      latest = text;
      kick();
    },
    async close() {
      stopped = true;
      clearTimeout(timer);
      await busy;
    },
  };
}

/** What a streamed message shows: at most `limit` characters, cut with an ellipsis. */
export function preview(text: string, limit = 2000): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
