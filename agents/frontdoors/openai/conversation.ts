/**
 * Which conversation a request continues, and the inbox id of its new message. OpenAI clients
 * resend the whole history with every request; the committee keeps its own history in the
 * conversation log, so only the last user message is published, under an id derived from the
 * conversation, that message's place among the user messages and its text: a retry of the same
 * request (or the same history resent) gets the same id and JetStream de-duplicates it.
 *
 * Names are the client's; ids in the mesh are the caller's tenant, '_', the name. Two keys that
 * pick the same name land in two conversations (two logs, two outbox subjects, two message ids),
 * and the same `user` from two keys is two users (memories are kept per user).
 */
import { createHash } from "node:crypto";
import { badRequest } from "./errors.ts";
import { contentText, MAX_TEXT, type ChatRequestMessage } from "./request.ts";

/** The header that names the conversation. */
export const CONVERSATION_HEADER = "x-lyra-conversation";
/** The response header with the conversation's id in the mesh (what `lyra log` takes). */
export const MESH_CONVERSATION_HEADER = "x-lyra-mesh-conversation";

/** The longest conversation name: with a tenant (at most 31) and '_' it fits a 128-character id. */
export const MAX_NAME = 96;
const NAME = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_NAME}}$`);

const hash = (...parts: string[]) => createHash("sha256").update(parts.join("\u0000")).digest("hex");

/** A tenant's name for something as the mesh knows it. Tenants have no '_', so the first one splits. */
export const scoped = (tenant: string, name: string): string => `${tenant}_${name}`;

export interface ConversationRef {
  /** The client's name (the header, the `user` field, or a hash of the opening): sent back as X-Lyra-Conversation. */
  name: string;
  /** The conversation in the mesh: inbox subject, log, outbox. */
  id: string;
}

/** The X-Lyra-Conversation header's name, checked; undefined when there is none. */
export function headerName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!NAME.test(header))
    throw badRequest(
      `the X-Lyra-Conversation header '${header.slice(0, 64)}' must be 1-${MAX_NAME} letters, digits, '_' or '-'`,
      "X-Lyra-Conversation",
      "invalid_conversation",
    );
  return header;
}

/**
 * The conversation: the X-Lyra-Conversation header (a token: letters, digits, '_', '-'), else
 * the `user` field (hashed when it is not a token), else a hash of the opening messages (the
 * system prompt and the first user message), so a client that sends neither still stays in one
 * conversation while it resends its history. Always within the caller's tenant.
 */
export function conversationOf(
  header: string | undefined,
  user: string | undefined,
  messages: ChatRequestMessage[],
  tenant: string,
): ConversationRef {
  const name =
    headerName(header) ?? (user !== undefined ? (NAME.test(user) ? user : `u-${hash(user).slice(0, 32)}`) : openingName(messages));
  return { name, id: scoped(tenant, name) };
}

function openingName(messages: ChatRequestMessage[]): string {
  const firstUser = messages.findIndex((m) => m.role === "user");
  const opening = messages.slice(0, firstUser + 1).map((m) => `${m.role}:${contentText(m.content)}`);
  return `h-${hash(...opening).slice(0, 32)}`;
}

/** The user id in the mesh (inbox message, role request, memories): the `user` field within the tenant. */
export const userOf = (user: string | undefined, tenant: string): string => scoped(tenant, user ?? "openai");

/** The new user message of a committee request: its text and its deterministic inbox id. */
export function newUserMessage(conversation: string, messages: ChatRequestMessage[]): { id: string; text: string } {
  const last = messages.at(-1)!;
  if (last.role !== "user")
    throw badRequest(
      `the last message must be the user's (it is '${last.role}'): model 'lyra' answers the last user message`,
      `messages[${messages.length - 1}].role`,
    );
  const text = contentText(last.content);
  const param = `messages[${messages.length - 1}].content`;
  if (text.trim() === "") throw badRequest("the last user message has no text", param);
  if (text.length > MAX_TEXT)
    throw badRequest(`the last user message is ${text.length} characters; the most is ${MAX_TEXT}`, param, "string_above_max_length");
  const ordinal = messages.filter((m) => m.role === "user").length - 1;
  return { id: `oai-${ordinal}-${hash(conversation, String(ordinal), text).slice(0, 24)}`, text };
}
