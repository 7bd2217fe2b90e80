/**
 * Which conversation a request continues, and the inbox id of its new message. OpenAI clients
 * resend the whole history with every request; the committee keeps its own history in the
 * conversation log, so only the last user message is published, under an id derived from the
 * conversation, that message's place among the user messages and its text: a retry of the same
 * request (or the same history resent) gets the same id and JetStream de-duplicates it. The id is
 * bound to the caller's key too: a de-duplicated message is answered with the stored reply, which
 * must never go to another key that sends the same text under the same conversation name.
 */
import { createHash } from "node:crypto";
import { TokenId } from "../../../schemas/index.ts";
import { badRequest } from "./errors.ts";
import { contentText, MAX_TEXT, type ChatRequestMessage } from "./request.ts";

/** The header that names the conversation. */
export const CONVERSATION_HEADER = "x-lyra-conversation";

const hash = (...parts: string[]) => createHash("sha256").update(parts.join("\u0000")).digest("hex");

/**
 * The conversation id: the X-Lyra-Conversation header (a token: letters, digits, '_', '-'), else
 * the `user` field (hashed when it is not a token), else a hash of the opening messages (the
 * system prompt and the first user message) under the caller's key, so a client that sends
 * neither still stays in one conversation while it resends its history.
 */
export function conversationOf(header: string | undefined, user: string | undefined, messages: ChatRequestMessage[], keyLabel: string): string {
  if (header !== undefined) {
    if (!TokenId.safeParse(header).success) throw badRequest(`the X-Lyra-Conversation header '${header.slice(0, 64)}' must be 1-128 letters, digits, '_' or '-'`, "X-Lyra-Conversation", "invalid_conversation");
    return header;
  }
  if (user !== undefined) return TokenId.safeParse(user).success ? user : `u-${hash(user).slice(0, 32)}`;
  const firstUser = messages.findIndex((m) => m.role === "user");
  const opening = messages.slice(0, firstUser + 1).map((m) => `${m.role}:${contentText(m.content)}`);
  return `h-${hash(keyLabel, ...opening).slice(0, 32)}`;
}

/** The new user message of a committee request: its text and its deterministic inbox id (per key). */
export function newUserMessage(conversation: string, messages: ChatRequestMessage[], keyLabel: string): { id: string; text: string } {
  const last = messages.at(-1)!;
  if (last.role !== "user") throw badRequest(`the last message must be the user's (it is '${last.role}'): model 'lyra' answers the last user message`, `messages[${messages.length - 1}].role`);
  const text = contentText(last.content);
  const param = `messages[${messages.length - 1}].content`;
  if (text.trim() === "") throw badRequest("the last user message has no text", param);
  if (text.length > MAX_TEXT) throw badRequest(`the last user message is ${text.length} characters; the most is ${MAX_TEXT}`, param, "string_above_max_length");
  const ordinal = messages.filter((m) => m.role === "user").length - 1;
  return { id: `oai-${ordinal}-${hash(keyLabel, conversation, String(ordinal), text).slice(0, 24)}`, text };
}
