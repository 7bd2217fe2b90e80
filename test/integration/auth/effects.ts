/**
 * JetStream API requests made raw as a generated user, the way a misbehaving process would make
 * them: each is published with a reply subject of the user's own and ends when the server refuses
 * the publish (a permission error on the connection) or answers it. The effect tests then ask a
 * test admin whether anything was read, pulled, changed, deleted or purged.
 */
import type { Msg, PermissionViolationError } from "@nats-io/nats-core";
import type { Mesh } from "../../../mesh/connect.ts";
import { eventually } from "../../harness/eventually.ts";

export type JsOutcome = { denied: true } | { denied: false; reply: Msg };

let serial = 0;

/** One raw JetStream API request (`body` as JSON, none when undefined) as `user`, connected as `me`. */
export async function jsRequest(
  me: Mesh,
  user: string,
  denials: PermissionViolationError[],
  subject: string,
  body?: unknown,
): Promise<JsOutcome> {
  const reply = `_INBOX.${user}.effects.${++serial}`;
  const got: Msg[] = [];
  const s = me.nc.subscribe(reply, { max: 1, callback: (e, m) => void (e ? undefined : got.push(m)) });
  const seen = denials.length;
  me.nc.publish(subject, body === undefined ? "" : JSON.stringify(body), { reply });
  try {
    return await eventually<JsOutcome>(
      `an answer to, or a refusal of, ${user}'s ${subject}`,
      () => {
        if (got[0]) return { denied: false, reply: got[0] };
        if (denials.slice(seen).some((e) => e.operation === "publish" && e.subject === subject)) return { denied: true };
        return undefined;
      },
      { timeoutMs: 10_000 },
    );
  } finally {
    if (!s.isClosed()) s.unsubscribe();
  }
}

/** What an answer says, short enough for a failure list. */
export function answerOf(m: Msg): string {
  const code = m.headers?.code ? `${m.headers.code} ` : "";
  return `${code}${m.string().slice(0, 160)}`;
}
