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
 * deadline, the stream flag or the partial answer to resume, which a re-issue may change, nor the
 * encoding: a JSON and a msgpack copy of one request are the same request. So a re-issue that
 * carries `resume` joins (or is answered from) the job a slow replica still runs for that id.
 */
export function requestDigest(req: RoleRequest, conversation: string | undefined): string {
  const { id: _id, deadline: _deadline, stream: _stream, conversation: _conversation, resume: _resume, ...asked } = req;
  return createHash("sha256")
    .update(canonical({ ...asked, conversation: conversation ?? null }))
    .digest("base64url");
}

export function claimOf(reply: string | undefined, req: RoleRequest, conversation: string | undefined): RequestClaim {
  return { caller: callerOf(reply), digest: requestDigest(req, conversation) };
}

/** Why a request may not use an id another request holds; undefined when it is the same request. */
export function claimConflict(id: string, held: RequestClaim, asked: RequestClaim): string | undefined {
  // The other caller's prefix is not named: it is none of this caller's business.
  if (held.caller !== asked.caller) {
    return (
      `request id '${id}' belongs to another caller's request (one whose replies go to another inbox prefix); ` +
      `send this request under a fresh request id`
    );
  }
  if (held.digest !== asked.digest) {
    return (
      `request id '${id}' was already used for a different request (its prompt, messages, options, tools, format ` +
      `or conversation differ); only a re-issue of the same request may reuse an id: send this one under a fresh request id`
    );
  }
  return undefined;
}

/**
 * A canonical form of a decoded value: object keys sorted (key order is an encoder's choice),
 * strings length-prefixed rather than escaped (a large attachment costs a copy, not an escape
 * pass), every kind tagged so that no two values share a form.
 */
function canonical(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") out.push("s", String(v.length), ":", v);
    else if (typeof v === "number") out.push("d", String(v), ";");
    else if (typeof v === "boolean" || typeof v === "bigint") out.push(typeof v === "boolean" ? "b" : "i", String(v), ";");
    else if (v === null || v === undefined) out.push("z");
    else if (v instanceof Uint8Array) out.push("x", Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64"), ";");
    else if (v instanceof Date) out.push("t", String(v.getTime()), ";");
    else if (Array.isArray(v)) {
      out.push("[");
      for (const x of v) walk(x);
      out.push("]");
    } else if (typeof v === "object") {
      out.push("{");
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o).sort()) {
        if (o[k] === undefined) continue; // as JSON: an undefined field is no field
        walk(k);
        walk(o[k]);
      }
      out.push("}");
    } else out.push("?", typeof v, ";"); // functions and symbols: never in a decoded body
  };
  walk(value);
  return out.join("");
}
