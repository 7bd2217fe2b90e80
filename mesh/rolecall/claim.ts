/**
 * What a request id is bound to: the caller that sent it and what it asked. The de-duplication
 * cache and a running request's re-issue (join) serve only a request with the same claim, so a
 * reused or guessed id never hands out another request's answer or stream.
 */
import { createHash } from "node:crypto";
import type { RoleRequest } from "../../schemas/index.ts";

export interface RequestClaim {
  /**
   * The reply subject's inbox prefix. NATS lets a user receive only where its permissions allow,
   * and `lyra auth` gives each user a private prefix (`_INBOX.<user>`), so an answer sent under a
   * prefix reaches that user alone. Without auth every caller shares `_INBOX`.
   */
  readonly caller: string;
  /** sha256 of the decoded request without the fields a re-issue may change. */
  readonly digest: string;
}

/** A NUID (22 base-62 characters): the per-client part of an inbox, in nats.js and the Go client alike. */
const NUID = /^[0-9A-Za-z]{22}$/;

/**
 * The inbox prefix of a reply subject: without its last token (the attempt or request token) and
 * the NUID-shaped tokens before it (the client's inbox). Lyra's client, nats.js and the Go client
 * (the `nats` CLI) reply on `<prefix>.<client nuid>.<token>`, a bare inbox is `<prefix>.<nuid>`:
 * both give `<prefix>`, so another process of the same user (a conductor replica re-running a
 * redelivered turn) is the same caller. `lyra auth`'s user names (`core`, `agent-<host>`...) are
 * never NUID-shaped.
 */
export function callerOf(reply: string | undefined): string {
  if (!reply) return "";
  const tokens = reply.split(".");
  let n = tokens.length - 1;
  while (n > 1 && NUID.test(tokens[n - 1]!)) n--;
  return tokens.slice(0, Math.max(1, n)).join(".");
}

/**
 * What determines the answer: the validated request (messages, prompt, attachments, options,
 * tools, format, user, unknown fields) and the conversation (header or body). Not the id, the
 * deadline or the stream flag, which a re-issue may change, nor the encoding: a JSON and a
 * msgpack copy of one request are the same request.
 */
export function requestDigest(req: RoleRequest, conversation: string | undefined): string {
  const { id: _id, deadline: _deadline, stream: _stream, conversation: _conversation, ...asked } = req;
  return createHash("sha256").update(canonicalJson({ ...asked, conversation: conversation ?? null })).digest("base64url");
}

export function claimOf(reply: string | undefined, req: RoleRequest, conversation: string | undefined): RequestClaim {
  return { caller: callerOf(reply), digest: requestDigest(req, conversation) };
}

/** Why a request may not use an id another request holds; undefined when it is the same request. */
export function claimConflict(id: string, held: RequestClaim, asked: RequestClaim): string | undefined {
  // The other caller's prefix is not named: it is none of this caller's business.
  if (held.caller !== asked.caller) {
    return `request id '${id}' belongs to another caller's request (one whose replies go to another inbox prefix); send this request under a fresh request id`;
  }
  if (held.digest !== asked.digest) {
    return `request id '${id}' was already used for a different request (its prompt, messages, options, tools, format or conversation differ); only a re-issue of the same request may reuse an id: send this one under a fresh request id`;
  }
  return undefined;
}

/** JSON with object keys sorted, so key order (a msgpack or JSON encoder's choice) does not matter. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString("base64") };
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
