/**
 * Model `lyra`: the whole committee, through the same inbox and outbox as every front door. The
 * new user message is published to `lyra.inbox.openai.<conversation>`; the voice's partial
 * output streams from the outbox's `.partial` subject and the final reply from the outbox.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
// The typed not-found errors are exported only here (the same classes the client throws).
import { jserrors } from "@nats-io/jetstream/internal";
import { publishInbox, watchReplies, storedReply, StreamName, CONDUCTOR_DURABLE, type Mesh } from "../../../mesh/index.ts";
import { PayloadTooLargeError, type OutboxMessage } from "../../../schemas/index.ts";
import { payloadTooLarge, unavailable } from "./errors.ts";

/** The inbox channel of this front door. */
export const CHANNEL = "openai";

/** An inbox message without its channel (this front door's). */
export interface NewMessage {
  id: string;
  conversation: string;
  user: { id: string };
  text: string;
  ts?: number;
  /** "bypass": the turn's role calls answer afresh, not from the response cache (Cache-Control: no-cache). */
  cache?: "bypass";
}

export type TurnEvent = { type: "delta"; text: string } | { type: "final"; reply: OutboxMessage };

export interface Committee {
  /**
   * Publishes the message and returns its reply as it comes: the voice's text as it streams, then
   * the final reply. Throws a 503 OpenAIError when no conductor consumes the inbox or JetStream is
   * unavailable; the returned iterator throws one when no reply comes within timeoutMs. A re-sent
   * message id is not run twice: its reply is followed, or read from the outbox when it is there.
   * Iterate the result to its end or call its return(): it holds two subscriptions.
   */
  start(msg: NewMessage, o: { signal: AbortSignal; timeoutMs: number }): Promise<AsyncGenerator<TurnEvent>>;
}

/** How long a seen conductor is trusted before the consumer is checked again, ms. */
const PRESENCE_TTL_MS = 1000;

export function createCommittee(mesh: Mesh): Committee {
  let jsm: JetStreamManager | undefined;
  let seenAt = -Infinity;
  const manager = async () => (jsm ??= await jetstreamManager(mesh.nc));

  // A conductor is there when the shared inbox consumer has pull requests waiting or messages in
  // hand; checked at most once a second while it is.
  const requireConductor = async () => {
    if (performance.now() - seenAt < PRESENCE_TTL_MS) return;
    let info;
    try {
      info = await (await manager()).consumers.info(StreamName.Inbox, CONDUCTOR_DURABLE);
    } catch (err) {
      if (err instanceof jserrors.ConsumerNotFoundError)
        throw unavailable("no conductor has consumed the inbox yet: start 'lyra core' (or 'lyra up')", "no_conductor", err);
      if (err instanceof jserrors.StreamNotFoundError)
        throw unavailable("the mesh's streams do not exist yet: start 'lyra core' (or 'lyra up')", "no_conductor", err);
      throw unavailable(`the mesh is unavailable (JetStream: ${(err as Error).message})`, "mesh_unavailable", err);
    }
    if (info.num_waiting === 0 && info.num_ack_pending === 0)
      throw unavailable("no conductor is consuming the inbox: is 'lyra core' running? ('lyra status' shows the mesh)", "no_conductor");
    seenAt = performance.now();
  };

  const start = async (msg: NewMessage, o: { signal: AbortSignal; timeoutMs: number }) => {
    await requireConductor();
    const watch = watchReplies(mesh, CHANNEL, msg.conversation, msg.id);
    const stop = () => void watch[Symbol.asyncDispose]();
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), stop()), o.timeoutMs);
    o.signal.addEventListener("abort", stop, { once: true });
    const cleanup = async () => {
      clearTimeout(timer);
      o.signal.removeEventListener("abort", stop);
      await watch[Symbol.asyncDispose]();
    };
    let stored: OutboxMessage | undefined;
    try {
      // No flush before the publish: the server handles this connection's SUBs before its PUB, and
      // the reply can only follow the publish, so the subscriptions are in place for it.
      const { duplicate } = await publishInbox(mesh, { ...msg, channel: CHANNEL }).catch((err: unknown) => {
        throw err instanceof PayloadTooLargeError
          ? payloadTooLarge(err)
          : unavailable(`could not publish to the inbox: ${(err as Error).message}`, "mesh_unavailable", err);
      });
      if (duplicate) stored = await storedReply(mesh, await manager(), CHANNEL, msg.conversation, msg.id);
    } catch (err) {
      await cleanup();
      throw err;
    }
    return (async function* (): AsyncGenerator<TurnEvent> {
      try {
        if (stored) {
          yield { type: "final", reply: stored };
          return;
        }
        for await (const m of watch) {
          if (m.final) {
            yield { type: "final", reply: m };
            return;
          }
          if (m.step === "voice" && m.text) yield { type: "delta", text: m.text };
        }
        if (timedOut)
          throw unavailable(
            `no reply within ${Math.round(o.timeoutMs / 1000)} s: is 'lyra core' running? ('lyra status' shows the mesh)`,
            "timeout",
          );
        if (o.signal.aborted) throw o.signal.reason;
      } finally {
        await cleanup();
      }
    })();
  };

  return { start };
}
