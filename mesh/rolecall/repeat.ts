/**
 * What a request whose id was seen before gets: it joins the live job of that id, it is answered
 * from the answer cache, or (another caller, another body) it is refused.
 */
import type { AnswerCache, StoredAnswer } from "./dedup.ts";
import { claimConflict } from "./claim.ts";
import type { Inbound } from "./inbound.ts";
import type { Job } from "./job.ts";

export type Repeat =
  { type: "join"; job: Job } | { type: "replay"; stored: StoredAnswer } | { type: "conflict"; reason: string; live: boolean };

/** Undefined for a request id not seen (or forgotten): a new request. */
export function findRepeat(inb: Inbound, live: Job | undefined, answers: AnswerCache): Repeat | undefined {
  const done = live ? undefined : answers.get(inb.id);
  if (!live && !done) return undefined;
  // A request id serves only the request that made it: another caller or another body is refused.
  const conflict = claimConflict(inb.id, live?.inbound.claim ?? done!.claim, inb.claim);
  if (conflict) return { type: "conflict", reason: conflict, live: live !== undefined };
  return live ? { type: "join", job: live } : { type: "replay", stored: done! };
}
