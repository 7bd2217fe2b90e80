/**
 * Reply inboxes of a role client: one wildcard subscription (`<inbox prefix>.<nuid>.*`) for all
 * its calls, a token under it per attempt. A subscription per attempt would send SUB and UNSUB
 * for every call and make the server rebuild its subject routing each time; nats.js muxes its own
 * request() the same way.
 */
import { createInbox, nuid, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";

export interface ReplyInbox {
  /** The reply subject to publish the request with. */
  readonly subject: string;
  /** Stops routing: later replies to this inbox are dropped. */
  close(): void;
}

export interface ReplyRoutes {
  /** A fresh reply subject whose messages go to `deliver`. */
  open(deliver: (msg: Msg) => void): ReplyInbox;
  /** Unsubscribes; open() subscribes again if called later. */
  close(): void;
}

export function createReplyRoutes(nc: NatsConnection): ReplyRoutes {
  const prefix = createInbox(inboxPrefixOf(nc));
  const routes = new Map<string, (msg: Msg) => void>();
  let sub: Subscription | undefined;
  const subscribe = () =>
    nc.subscribe(`${prefix}.*`, {
      callback: (err, msg) => {
        if (err) return;
        routes.get(msg.subject.slice(prefix.length + 1))?.(msg);
      },
    });
  return {
    open(deliver) {
      // A subscription the server closed (permissions, a drain) is replaced on the next call.
      if (!sub || sub.isClosed()) sub = subscribe();
      const token = nuid.next();
      routes.set(token, deliver);
      return { subject: `${prefix}.${token}`, close: () => routes.delete(token) };
    },
    close() {
      routes.clear();
      if (sub && !sub.isClosed() && !nc.isClosed()) sub.unsubscribe();
      sub = undefined;
    },
  };
}

/** The connection's private inbox prefix: on the implementation, not the interface. */
function inboxPrefixOf(nc: NatsConnection): string | undefined {
  return (nc as NatsConnection & { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
}
