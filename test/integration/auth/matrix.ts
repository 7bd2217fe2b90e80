/**
 * The permission matrix's machinery: an action a user tries (publish, subscribe, answer a request)
 * and whether the server let it work end to end or refused it, judged from what a test admin in
 * the same account sees.
 */
import { setImmediate as tick } from "node:timers/promises";
import { PermissionViolationError, type Msg, type NatsConnection } from "@nats-io/nats-core";
import type { Mesh } from "../../../mesh/connect.ts";

export type Action =
  | { op: "pub"; subject: string }
  | { op: "sub"; subject: string; queue?: string; probe?: string }
  /** Answer a request (three messages, as a streaming reply) sent by someone else to `subject`. */
  | { op: "respond"; subject: string; queue?: string };

export interface Row {
  user: string;
  allow: Action[];
  deny: Action[];
}

export const pub = (subject: string): Action => ({ op: "pub", subject });
export const sub = (subject: string, queue?: string, probe?: string): Action => ({ op: "sub", subject, queue, probe });

/** Permission errors of one connection, as nats.js reports them (status events, closed subscriptions). */
export function watchDenials(nc: NatsConnection): PermissionViolationError[] {
  const seen: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error" && s.error instanceof PermissionViolationError) seen.push(s.error);
  })();
  return seen;
}

/** Runs one action: "allowed" when it worked end to end, "denied" when the server refused it. */
export async function attempt(me: Mesh, denials: PermissionViolationError[], admin: Mesh, adminSeen: Msg[], a: Action): Promise<string> {
  const refused = (op: "publish" | "subscription") => denials.some((e) => e.operation === op && e.subject === a.subject);
  // A round trip on the sender, then on both receivers: whatever the server routed before a PONG
  // reaches that connection before it, so after this every delivery and -ERR has arrived.
  const settle = async (sender: NatsConnection) => {
    await sender.flush();
    await admin.nc.flush();
    await me.nc.flush();
    await tick();
  };
  if (a.op === "pub") {
    const marker = `m${Math.random()}`;
    me.nc.publish(a.subject, marker);
    await settle(me.nc);
    const delivered = adminSeen.some((m) => m.subject === a.subject && m.string() === marker);
    if (refused("publish")) return delivered ? "denied but delivered" : "denied";
    return delivered ? "allowed" : "no error, not delivered";
  }
  const got: Msg[] = [];
  const s = me.nc.subscribe(a.subject, { queue: a.queue, callback: (e, m) => void (e ? undefined : got.push(m)) });
  await settle(me.nc);
  if (a.op === "respond") {
    const replies: Msg[] = [];
    const rs = admin.nc.subscribe("_INBOX.core.resp.*", { callback: (e, m) => void (e ? undefined : replies.push(m)) });
    await admin.nc.flush();
    const probe = a.subject.replace(/\*/g, "x1").replace(/>$/, "tools.call.now");
    admin.nc.publish(probe, "q", { reply: "_INBOX.core.resp.1" });
    await settle(admin.nc);
    for (const m of got) for (const part of ["ack", "chunk", "end"]) m.respond(part);
    await settle(me.nc);
    rs.unsubscribe();
    s.unsubscribe();
    if (refused("subscription") || refused("publish") || denials.some((e) => e.subject === "_INBOX.core.resp.1")) return "denied";
    return got.length === 1 && replies.length === 3 ? "allowed" : `request seen ${got.length}, replies ${replies.length}`;
  }
  const probe = a.probe ?? a.subject;
  admin.nc.publish(probe, "probe");
  await settle(admin.nc);
  const closedWithError = s.isClosed();
  if (!s.isClosed()) s.unsubscribe();
  const denied = denials.some((e) => e.operation === "subscription" && e.subject === a.subject) || closedWithError;
  if (denied) return got.length > 0 ? "denied but delivered" : "denied";
  return got.length === 1 ? "allowed" : `no error, ${got.length} delivered`;
}
