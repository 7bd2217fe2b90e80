import type { LogEvent, RoleRequest } from "../../schemas/index.ts";
import type { CallOptions, RoleStream } from "../rolecall/index.ts";
import type { SegmentOptions } from "./segment.ts";
import type { VariantWeight } from "../rollout.ts";

export type { RoleResult, RoleStream } from "../rolecall/index.ts";

/** The call options the conductor sets. */
export type RoleCallOptions = Pick<CallOptions, "signal" | "timeoutMs" | "requestId" | "conversation" | "headers" | "onOutage">;

/** The part of the role client the conductor uses (the mesh client, or a fallback). */
export interface RoleCaller {
  stream(role: string, request: RoleRequest, opts?: RoleCallOptions): RoleStream;
  /** Whether it answers `role` at all (a fallback has aliases for some roles only); default every role. */
  serves?(role: string): boolean;
}

/** Where the committee's roles are, as the conductor sees them. */
export interface CommitteeConfig {
  /** Role that classifies; default "router". */
  router: string;
  /** Role that writes the final reply; default "voice". */
  voice: string;
  /** Specialists the router may choose. */
  specialists: string[];
  /** Used when the router fails or names an unknown specialist. */
  defaultSpecialist: string;
  /**
   * Specialists whose model sees images (roles.<r>.vision). A message with an image that the
   * router gives to another specialist goes to the first of these instead; none: no such rule.
   */
  vision?: string[];
  /**
   * The pipelined voice: how the specialist's draft is cut into segments the voice rewrites as
   * they come (segment.ts); false: the voice rewrites the whole draft. Default on, with the
   * segmenter's defaults.
   */
  pipeline?: SegmentOptions | false;
  /**
   * Roles with variants (roles.<r>.variants): each conversation's calls of the role go to one
   * variant by weight, shadows answer beside it (mesh/rollout.ts); weights follow the rollout
   * bucket. None: every role as configured.
   */
  variants?: Record<string, VariantWeight[]>;
}

// Omit applied to each member of a union (plain Omit would merge the members into one object type).
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
/** A log event as a step writes it: the turn adds ts, conversation and turn. */
export type StepEvent = DistributiveOmit<LogEvent, "ts" | "conversation" | "turn">;

/** What the conductor reports for metrics; cheap, synchronous, never throws into the conductor. */
export type ConductorEvent =
  /** A message was taken from the inbox: `lagMs` since it was stored, `deliveries` 1 on first delivery. */
  | { type: "received"; lagMs: number; deliveries: number }
  /** One committee step (router, specialist, voice) ended. */
  | { type: "step"; step: string; role: string; ok: boolean; ms: number }
  /** A role no agent serves was answered by its fallback (the role's LiteLLM alias). */
  | { type: "fallback"; role: string }
  /** A message was given up on, for `cause`. */
  | { type: "dead_letter"; cause: DeadLetterCause }
  /** A call of a role with variants ended (roles.<r>.variants): which variant the conversation had. */
  | { type: "variant"; role: string; variant: string; ok: boolean }
  /** A shadow variant's answer: logged, failed (logged with its error) or skipped (the shadow limit was reached). */
  | { type: "shadow"; role: string; variant: string; outcome: "logged" | "failed" | "skipped" };

/** Why an inbox message was given up on (the `cause` label of `lyra_dead_letters_total`). */
export const DeadLetterCause = {
  /** The body fails its schema or cannot be decoded. */
  Undecodable: "undecodable",
  /** It was delivered more than `maxDeliver` times. */
  MaxDeliver: "max_deliver",
  /** The body names another channel or conversation than the subject NATS authorised. */
  SubjectMismatch: "subject_mismatch",
  /** Its conversation was started on another channel (the log is that channel's conversation). */
  ForeignConversation: "foreign_conversation",
} as const;
export type DeadLetterCause = (typeof DeadLetterCause)[keyof typeof DeadLetterCause];
