/**
 * The voice step: the voice rewrites the specialist's draft in Lyra's voice. Sequential, it
 * rewrites the whole draft once the specialist is done. Pipelined (the default), it starts on the
 * draft's first complete segment while the specialist still writes, and rewrites piece by piece
 * (a piece: the segments cut while the call before ran), one call after another, each with the
 * pieces before (draft and rewrite) as context; the reply is the rewrites in order. Each piece is
 * logged (`voice_segment`, message id `voice-seg-N`), so a re-run turn reuses the pieces voiced.
 */
import type { ChatMessage, InboxMessage, LogEvent, RoleRequest } from "../../schemas/index.ts";
import { createSegmenter, type SegmentOptions } from "./segment.ts";
import { stepMeta, type TurnSteps } from "./step.ts";
import type { RoleResult } from "./types.ts";

/** A step's event already in the log (a re-run after a crash), by type. */
export type DoneSteps = ReadonlyMap<LogEvent["type"], LogEvent>;
type VoiceSegment = Extract<LogEvent, { type: "voice_segment" }>;

/** What the voice step works from. */
export interface VoiceContext {
  steps: TurnSteps;
  voice: string;
  done: DoneSteps;
  msg: InboxMessage;
  userTurn: ChatMessage[];
  specialist: string;
}

/** Voice rewrites the draft; without voice the draft is the reply, without a draft an apology is. */
export async function voiceStep(v: VoiceContext, draft: string | undefined): Promise<string> {
  const { steps } = v;
  let reply: string | undefined;
  const voiced = v.done.get("voice_reply");
  if (voiced?.type === "voice_reply") reply = voiced.text;
  else if (draft !== undefined) {
    const voiceReq: RoleRequest = {
      conversation: v.msg.conversation,
      messages: [
        ...v.userTurn,
        { role: "system", content: `The ${v.specialist} drafted the answer in the next message. Rewrite it in Lyra's voice for the user.` },
        { role: "user", content: draft },
      ],
    };
    try {
      const r = await steps.call(v.voice, "voice", voiceReq, true);
      reply = r.text;
      await steps.append({ type: "voice_reply", text: reply, ...stepMeta(r, v.msg.user.id) }, "voice");
    } catch (err) {
      await steps.fail("voice", v.voice, err);
      reply = draft; // the specialist's answer is better than silence
      await steps.append({ type: "voice_reply", text: reply, backend: "none (voice failed)" }, "voice");
    }
  }
  if (reply === undefined) {
    reply = `Sorry, I could not answer this time: ${steps.failed.join("; ") || "no step produced a reply"}.`;
    await steps.append({ type: "voice_reply", text: reply, backend: "none (committee failed)" }, "voice");
  }
  return reply;
}

/** What the specialist step tells the pipelined voice as it streams. */
export interface DraftFeed {
  /** New draft text. */
  readonly onText: (text: string) => void;
  /** A tool step came: the draft not yet cut is dropped, segments start after it. */
  readonly onToolStep: () => void;
  /** Where in the draft the voiced part starts (after the last tool step). */
  readonly voiceFrom: number;
}

/** The specialist's draft: its text, and where its voiced part starts (logged, on a re-run). */
export interface Draft {
  text: string;
  voiceFrom: number;
}

/**
 * The pipelined voice around the specialist step `draft` (which streams into the feed). A draft
 * that is one segment (nothing was cut while it streamed) is voiced as the sequential voice does.
 */
export async function pipelinedVoice(
  v: VoiceContext,
  opts: SegmentOptions,
  logged: readonly LogEvent[],
  draft: (feed: DraftFeed) => Promise<Draft | undefined>,
): Promise<string> {
  const voiced = v.done.get("voice_reply");
  if (voiced?.type === "voice_reply") return voiced.text;
  const voicer = segmentVoicer(v, logged);
  const segmenter = createSegmenter(opts);
  let fed = 0;
  let voiceFrom = 0;
  const feed: DraftFeed = {
    onText: (text) => {
      fed += text.length;
      for (const s of segmenter.push(text)) voicer.add(s);
    },
    onToolStep: () => {
      segmenter.reset();
      voiceFrom = fed;
    },
    get voiceFrom() {
      return voiceFrom;
    },
  };
  let d: Draft | undefined;
  try {
    d = await draft(feed);
  } catch (err) {
    await voicer.settle(true); // the turn is abandoned: the voice calls end with it
    throw err;
  }
  if (d && fed === 0) {
    // The draft came from the log (a re-run): cut it as its stream was.
    fed = voiceFrom = d.voiceFrom;
    feed.onText(d.text.slice(d.voiceFrom));
  }
  const last = segmenter.flush();
  if (voicer.count() === 0) return voiceStep(v, d && (last ?? d.text));
  if (d && last !== undefined) voicer.add(last);
  const reply = await voicer.finish();
  await v.steps.append({ type: "voice_reply", text: reply.text, segments: reply.pieces, ...reply.meta }, "voice");
  return reply.text;
}

/**
 * Voices the segments as they are added, one call at a time. Each call takes every segment cut
 * since the call before ended (one piece): the voice starts on the first segment at once, and
 * when the specialist writes faster than the voice, the later pieces grow instead of queueing
 * one call (one prompt read, one opening) per segment. A re-run reuses each piece already
 * logged, taking as many segments as its logged draft held.
 */
function segmentVoicer(v: VoiceContext, logged: readonly LogEvent[]) {
  const earlier = new Map(logged.filter((e): e is VoiceSegment => e.type === "voice_segment").map((e) => [e.index, e]));
  const pending: string[] = []; // segments cut and not yet in a piece
  let ended = false;
  let wake: (() => void) | undefined;
  const drafts: string[] = [];
  const rewrites: string[] = [];
  let failure: { err: unknown } | undefined;
  let voiceDown = false;
  let meta: Partial<ReturnType<typeof stepMeta>> = { backend: "none (voice failed)" };
  let tokens = 0;
  let tokensIn = 0;
  let latency = 0;

  /** The next piece's draft: the pending segments (a re-run: those its logged piece held); undefined once all are voiced. */
  const nextPiece = async (): Promise<string | undefined> => {
    for (;;) {
      const want = earlier.get(drafts.length)?.draft.length ?? Infinity;
      let n = 0;
      let len = 0;
      while (n < pending.length && len < want) len += pending[n++]!.length;
      if (n > 0 && (want === Infinity || len >= want || ended)) return pending.splice(0, n).join("");
      if (ended) return undefined;
      await new Promise<void>((r) => (wake = r));
    }
  };
  const voiceOne = async (i: number) => {
    const draft = drafts[i]!;
    const step = `voice-seg-${i}`;
    const before = earlier.get(i);
    if (before) return void (rewrites[i] = before.text);
    let r: RoleResult | undefined;
    if (!voiceDown) {
      try {
        r = await v.steps.call(v.voice, step, segmentRequest(v, drafts, rewrites, i), { as: "voice", prefix: separator(i) });
      } catch (err) {
        await v.steps.fail(step, v.voice, err); // rethrows when the turn is abandoned
        voiceDown = true; // the voice failed within its step's deadline: the rest is not waited for again
      }
    }
    if (r) {
      rewrites[i] = r.text;
      count(r);
      return v.steps.append({ type: "voice_segment", index: i, draft, text: r.text, ...stepMeta(r, v.msg.user.id) }, step);
    }
    rewrites[i] = draft; // the specialist's draft is better than silence
    await v.steps.append({ type: "voice_segment", index: i, draft, text: draft, backend: "none (voice failed)" }, step);
  };
  const count = (r: RoleResult) => {
    meta = stepMeta(r, v.msg.user.id);
    tokens += r.final.usage.completion_tokens;
    tokensIn += r.final.usage.prompt_tokens;
    latency += r.final.timings.total_ms;
  };
  // Between two rewrites: what ended the draft piece before (a paragraph break or a space), unless the rewrite ends with a space.
  const separator = (i: number) => (i === 0 || /\s$/.test(rewrites[i - 1]!) ? "" : /\n[ \t]*\n\s*$/.test(drafts[i - 1]!) ? "\n\n" : " ");
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  let worker: Promise<void> | undefined;
  const work = async () => {
    for (let piece = await nextPiece(); piece !== undefined; piece = await nextPiece()) await voiceOne(drafts.push(piece) - 1);
  };
  /** Ends the voicing once the pending segments are voiced (abandon: once the call running ends). */
  const settle = async (abandon = false) => {
    if (abandon) pending.length = 0;
    ended = true;
    notify();
    await worker;
  };
  return {
    add(segment: string) {
      pending.push(segment);
      worker ??= work().catch((err: unknown) => void (failure = { err }));
      notify();
    },
    count: () => drafts.length + pending.length,
    settle,
    async finish() {
      await settle();
      if (failure) throw failure.err;
      const text = rewrites
        .map((r, i) => separator(i) + r)
        .join("")
        .trimEnd();
      return {
        text,
        pieces: drafts.length,
        meta: { ...meta, ...(tokens ? { tokens, tokens_in: tokensIn, tokens_out: tokens, latency_ms: latency } : {}) },
      };
    },
  };
}

/**
 * The voice's prompt for piece i: the conversation, the instruction, each piece before as a
 * draft and its rewrite, the piece. Its answer is bounded to the piece's length in tokens (4
 * characters a token, and 4 more): a rewrite is about as long as its draft, and a small model
 * that runs on past its part (a comment, a summary) is cut off there.
 */
function segmentRequest(v: VoiceContext, drafts: readonly string[], rewrites: readonly string[], i: number): RoleRequest {
  const before = drafts.slice(0, i).flatMap((d, j): ChatMessage[] => [
    { role: "user", content: d },
    { role: "assistant", content: rewrites[j]! },
  ]);
  const instruction =
    `The ${v.specialist} is drafting the answer to the user; it reaches you in parts, one message each. Rewrite the next part ` +
    `in Lyra's voice, as the continuation of what you wrote so far. Answer with the rewritten part only: ` +
    `no preface, no comment on the draft, no greeting, no summary.`;
  return {
    conversation: v.msg.conversation,
    // The instruction before the segments: each call's prompt starts with the one before's, so Ollama reuses its cache.
    messages: [...v.userTurn, { role: "system", content: instruction }, ...before, { role: "user", content: drafts[i]! }],
    options: { max_tokens: Math.ceil(drafts[i]!.length / 4) + 4 },
  };
}
