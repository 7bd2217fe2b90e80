/**
 * What the adapter keeps in JetStream KV, so a restart or a second replica sees it: the
 * conversation epoch of each channel (`/forget` starts a new conversation) and the replies already
 * posted (a redelivered outbox message is not posted twice).
 */
import { Kvm, type KV } from "@nats-io/kv";
import type { Mesh } from "../../../mesh/index.ts";

export const STATE_BUCKET = "LYRA_DISCORD";
export const SENT_BUCKET = "LYRA_DISCORD_SENT";
/** How long a posted reply is remembered; it must cover the outbox's redelivery window. */
export const SENT_MAX_AGE_MS = 7 * 24 * 3600_000;

export interface DiscordState {
  /** The conversation id of a channel (and, in "user" mode, a user) now. */
  conversation(channelId: string, userId: string): Promise<string>;
  /** Starts a new conversation in the channel (for the user in "user" mode); returns its id. */
  forget(channelId: string, userId: string): Promise<string>;
  wasSent(inReplyTo: string): Promise<boolean>;
  markSent(inReplyTo: string, messageIds: string[]): Promise<void>;
}

export async function openState(mesh: Mesh, mode: "channel" | "user"): Promise<DiscordState> {
  const kvm = new Kvm(mesh.nc);
  const state: KV = await kvm.create(STATE_BUCKET, { history: 1 });
  const sent: KV = await kvm.create(SENT_BUCKET, { history: 1, ttl: SENT_MAX_AGE_MS });
  const scope = (ch: string, user: string) => (mode === "user" ? `${ch}.${user}` : ch);
  const epoch = async (key: string) => Number((await state.get(`epoch.${key}`))?.string() ?? "0") || 0;
  const name = (ch: string, user: string, e: number) => `d${ch}${mode === "user" ? `-u${user}` : ""}${e ? `-${e}` : ""}`;
  return {
    async conversation(ch, user) {
      return name(ch, user, await epoch(scope(ch, user)));
    },
    async forget(ch, user) {
      const key = `epoch.${scope(ch, user)}`;
      const e = (await epoch(scope(ch, user))) + 1;
      await state.put(key, String(e));
      return name(ch, user, e);
    },
    async wasSent(id) {
      return (await sent.get(id)) !== null;
    },
    async markSent(id, messageIds) {
      await sent.put(id, JSON.stringify(messageIds));
    },
  };
}

/** The Discord channel a conversation id belongs to (`d<channel>[-u<user>][-<epoch>]`). */
export function channelOfConversation(conversation: string): string | undefined {
  return /^d([0-9]{1,20})(?:-|$)/.exec(conversation)?.[1];
}
