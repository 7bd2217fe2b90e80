/** Shared pieces of the role-call integration tests. */
import { createInbox, headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { decode, Header } from "../../../schemas/index.ts";

/** Every reply to one raw request, up to and including the terminator (or until `timeoutMs`). */
export async function rawExchange(
  nc: NatsConnection,
  subject: string,
  body: Uint8Array | string,
  hdrs: Record<string, string> = {},
  timeoutMs = 5000,
  /** The reply inbox's prefix (a caller's private `_INBOX.<user>`); default `_INBOX`. */
  inboxPrefix?: string,
): Promise<Msg[]> {
  const inbox = createInbox(inboxPrefix);
  const msgs: Msg[] = [];
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    nc.subscribe(inbox, {
      callback: (_err, m) => {
        msgs.push(m);
        if (isTerminator(m)) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  nc.publish(subject, body, { reply: inbox, headers: Object.keys(hdrs).length ? h : undefined });
  await done;
  return msgs;
}

export function isTerminator(m: Msg): boolean {
  return m.data.length === 0 && m.headers === undefined;
}

/** A reply's decoded body. */
export function bodyOf(m: Msg): unknown {
  return decode(m.data, m.headers?.get(Header.ContentType) || undefined).value;
}

export function errorCodeOf(m: Msg): string | undefined {
  return m.headers?.get(Header.ErrorCode) || undefined;
}

/** A promise with its resolver, for handlers that wait on the test. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
