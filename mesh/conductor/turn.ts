/**
 * One turn of the committee: router → specialist → voice (pipelined by default: the voice
 * rewrites the draft piece by piece while the specialist writes, voice.ts). Each step is logged with a
 * deterministic message id; a step already in the log (a re-run after a crash) is reused, so the
 * log and the outbox hold each step and the reply once.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import {
  Header,
  RouterChoice,
  type ChatMessage,
  type InboxMessage,
  type LogEvent,
  type Media,
  type OutboxMessage,
} from "../../schemas/index.ts";
import { encodeBody } from "../body.ts";
import { lastStoredReply } from "../frontdoor.ts";
import { publishStored } from "../publish-stored.ts";
import { subjects } from "../subjects.ts";
import { producedMedia, type ProducedMedia } from "./produced.ts";
import { createTurnSteps, stepMeta, type TurnDeps, type TurnSteps, type TurnTrace } from "./step.ts";
import type { CommitteeConfig } from "./types.ts";
import type { CallUsage } from "./budget.ts";
import { toolLogger, type ToolEventSink } from "./toollog.ts";
import { pipelinedVoice, voiceStep, type DoneSteps, type Draft, type DraftFeed } from "./voice.ts";

export type { TurnDeps, TurnTrace } from "./step.ts";

export interface TurnResult {
  reply: string;
  specialist: string;
  failed: string[];
  /** The model calls this run made (the user's budget adds them). */
  calls: readonly CallUsage[];
}

/** The conversation as each role sees it this turn. */
interface TurnPrompts {
  userTurn: ChatMessage[];
  routerTurn: ChatMessage[];
  specialistTurn: ChatMessage[];
  images: number;
}

export async function runTurn(
  deps: TurnDeps,
  msg: InboxMessage,
  prior: LogEvent[],
  history: ChatMessage[],
  signal: AbortSignal,
  trace?: TurnTrace,
): Promise<TurnResult> {
  const { committee } = deps;
  const done: DoneSteps = new Map(prior.filter((e) => e.turn === msg.id).map((e) => [e.type, e] as const));
  const steps = createTurnSteps(deps, msg, signal, trace);
  await steps.append(userMessage(msg), "user");
  const prompts = turnPrompts(msg, history);
  const media = producedMedia(prior, msg.id);
  // 1. Router
  const specialist = await routeStep(steps, committee, done, msg, prompts);
  // 2. Specialist, 3. voice
  const voice = { steps, voice: committee.voice, done, msg, userTurn: prompts.userTurn, specialist };
  const draft = (feed?: DraftFeed) => specialistStep(steps, specialist, done, msg, prompts.specialistTurn, media, feed);
  const reply =
    committee.pipeline === false
      ? await voiceStep(voice, (await draft())?.text)
      : await pipelinedVoice(
          voice,
          committee.pipeline ?? {},
          prior.filter((e) => e.turn === msg.id),
          draft,
        );
  await steps.flush();
  const failed = [...steps.failed];
  await publishReply(deps, msg, signal, done.size > 0, { reply, specialist, failed, media: media.list() });
  return { reply, specialist, failed, calls: steps.calls };
}

/**
 * A turn refused before any model call (the user's budget is spent): the message is logged as
 * usual (nothing is lost), then why, and `reason` is the reply, through the normal reply path.
 */
export async function refuseTurn(deps: TurnDeps, msg: InboxMessage, signal: AbortSignal, code: string, reason: string): Promise<void> {
  const steps = createTurnSteps(deps, msg, signal);
  await steps.append(userMessage(msg), "user");
  await steps.append({ type: "error", step: "inbox", code, message: reason }, "refused");
  const reply = `Sorry: ${reason}.`;
  await publishReply(deps, msg, signal, true, { reply, specialist: "", failed: [reason], media: [] });
}

/** The user_message event that opens a turn in the log. */
const userMessage = (msg: InboxMessage) =>
  ({
    type: "user_message",
    channel: msg.channel,
    user: msg.user,
    text: msg.text,
    ...(msg.media?.length ? { media: msg.media } : {}),
  }) as const;

function turnPrompts(msg: InboxMessage, history: ChatMessage[]): TurnPrompts {
  const userTurn: ChatMessage[] = [...history, { role: "user", content: msg.text }];
  // The specialist gets the user's media (references, not bytes); the router is told they are there.
  const images = (msg.media ?? []).filter((m) => m.kind === "image").length;
  const specialistTurn: ChatMessage[] = msg.media?.length ? [...history, { role: "user", content: msg.text, media: msg.media }] : userTurn;
  const routerTurn: ChatMessage[] = images
    ? [...history, { role: "user", content: `${msg.text}\n\n[The user attached ${images} image${images > 1 ? "s" : ""} to this message.]` }]
    : userTurn;
  return { userTurn, routerTurn, specialistTurn, images };
}

/**
 * The router chooses the specialist; an unusable answer or a failed router leaves the default one.
 * Its `routed` event is staged: the specialist step's first append stores both.
 */
async function routeStep(
  steps: TurnSteps,
  committee: CommitteeConfig,
  done: DoneSteps,
  msg: InboxMessage,
  p: TurnPrompts,
): Promise<string> {
  const routed = done.get("routed");
  if (routed?.type === "routed") return routed.specialist;
  let choice = { specialist: committee.defaultSpecialist, confidence: 0, reason: "router unavailable; default specialist" };
  try {
    const r = await steps.call(committee.router, "router", { messages: p.routerTurn, conversation: msg.conversation }, false);
    const parsed = RouterChoice.safeParse(safeJson(r.text));
    if (parsed.success && committee.specialists.includes(parsed.data.specialist)) choice = parsed.data;
    else
      choice.reason =
        `router answer unusable ` +
        `(${parsed.success ? `unknown specialist '${parsed.data.specialist}'` : "off-schema"}); default specialist`;
    choice = seeing(choice, p.images, committee.vision);
    // Stored with specialist_started, which follows at once (one round trip).
    steps.stage({ type: "routed", ...choice, ...stepMeta(r, msg.user.id) }, "routed");
  } catch (err) {
    await steps.fail("router", committee.router, err);
    choice = seeing(choice, p.images, committee.vision);
    steps.stage({ type: "routed", ...choice }, "routed");
  }
  return choice.specialist;
}

/**
 * The specialist drafts the answer, calling tools on the way, streaming into `feed` (the pipelined
 * voice); undefined when it failed.
 */
async function specialistStep(
  steps: TurnSteps,
  specialist: string,
  done: DoneSteps,
  msg: InboxMessage,
  specialistTurn: ChatMessage[],
  media: ProducedMedia,
  feed?: DraftFeed,
): Promise<Draft | undefined> {
  const finished = done.get("specialist_finished");
  if (finished?.type === "specialist_finished") return { text: finished.text, voiceFrom: finished.voice_from ?? 0 };
  await steps.append({ type: "specialist_started", specialist }, "specialist-started");
  try {
    const logTool = toolLogger(specialist, steps.append);
    const onTool: ToolEventSink = async (c) => {
      feed?.onToolStep();
      media.note(c);
      await logTool(c);
    };
    const req = { messages: specialistTurn, conversation: msg.conversation, user: msg.user.id };
    const r = await steps.call(specialist, "specialist", req, feed ? { onText: feed.onText } : true, onTool);
    const voiceFrom = feed?.voiceFrom ?? 0;
    const voiced = voiceFrom ? { voice_from: voiceFrom } : {};
    const ev = { type: "specialist_finished", specialist, text: r.text, ...voiced, ...stepMeta(r, msg.user.id) } as const;
    await steps.append(ev, "specialist-finished");
    return { text: r.text, voiceFrom };
  } catch (err) {
    await steps.fail("specialist", specialist, err);
    return undefined;
  }
}

/**
 * The final reply, published once. JetStream would de-duplicate a second publish of it, but a
 * core NATS subscriber of the outbox subject would see it again; so a re-run (steps of this turn
 * were in the log) first looks for the reply an earlier run stored.
 */
async function publishReply(
  deps: TurnDeps,
  msg: InboxMessage,
  signal: AbortSignal,
  rerun: boolean,
  r: { reply: string; specialist: string; failed: string[]; media: Media[] },
): Promise<void> {
  if (rerun && (await storedReply(deps.jsm, msg))) {
    deps.log.info("the reply of this turn is already stored; not published again");
    return;
  }
  const out: OutboxMessage = {
    conversation: msg.conversation,
    channel: msg.channel,
    in_reply_to: msg.id,
    text: r.reply,
    final: true,
    ...(r.specialist ? { specialist: r.specialist } : {}),
    ts: Date.now(),
  };
  if (r.failed.length) out.error = r.failed.join("; ");
  if (r.media.length) out.media = r.media;
  const { data, headers } = encodeBody(deps.mesh, out, { [Header.Conversation]: msg.conversation });
  const ack = await publishStored(deps.js, subjects.outbox(msg.channel, msg.conversation), data, {
    msgID: `${msg.channel}:${msg.id}:reply`,
    headers,
    signal,
  });
  if (ack.duplicate)
    deps.log.warn("the reply was stored already (an earlier run's publish the lookup did not see); live subscribers saw it twice");
}

/**
 * Whether the outbox holds the final reply to `msg`: the last message on the conversation's outbox
 * subject answers it (a conversation's turns run in order, so a re-run turn's reply is the last one
 * stored, if it was). A failed lookup says no: the reply is published, and at worst seen twice.
 */
async function storedReply(jsm: JetStreamManager, msg: InboxMessage): Promise<boolean> {
  try {
    return (await lastStoredReply(jsm, msg.channel, msg.conversation))?.in_reply_to === msg.id;
  } catch {
    return false;
  }
}

/**
 * The vision rule: a message with an image goes to a specialist that sees images. When the router
 * chose one that cannot, the first vision specialist takes the turn and the reason says so.
 */
function seeing<C extends { specialist: string; reason: string }>(choice: C, images: number, vision: readonly string[] | undefined): C {
  if (!images || !vision?.length || vision.includes(choice.specialist)) return choice;
  return {
    ...choice,
    specialist: vision[0]!,
    reason: `${choice.reason}; the message carries an image and '${choice.specialist}' cannot see images, so '${vision[0]}' takes it`,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
