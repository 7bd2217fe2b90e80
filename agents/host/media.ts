/**
 * A request's media (a user's images, by LYRA_MEDIA reference or inline) made ready for the model.
 * A vision role's model gets the bytes as the message's base64 `images` (what Ollama takes; the
 * OpenAI mapping turns them into data URLs). Any other role's model gets a note saying what was
 * attached, with its reference, so it can say it cannot see it or ask `describe_image`.
 */
import type { ChatMessage, Media } from "../../schemas/index.ts";
import type { Logger } from "../../mesh/index.ts";

/** How the agent reaches LYRA_MEDIA (mesh/media.ts over the host's connection). */
export interface MediaAccess {
  /** The bytes of an item, size and digest checked. */
  read(m: Media): Promise<Uint8Array>;
  /** The item as a stored reference (an inline item is stored), so a tool can be given it. */
  store(m: Media): Promise<Media>;
}

/** The messages with their `media` resolved (vision) or described (otherwise); `media` is removed. */
export async function resolveMedia(
  messages: ChatMessage[],
  vision: boolean,
  access: MediaAccess | undefined,
  log: Logger,
): Promise<ChatMessage[]> {
  if (!messages.some((m) => m.media?.length)) return messages;
  return Promise.all(
    messages.map(async (m) => {
      if (!m.media?.length) return m;
      const { media, ...rest } = m;
      const images: string[] = [];
      const notes: string[] = [];
      for (const item of media) {
        if (vision && item.kind === "image") {
          try {
            images.push(Buffer.from(await readItem(item, access)).toString("base64"));
          } catch (err) {
            log.warn({ err, object: item.object }, "an attached image could not be read");
            notes.push(`[An attached image (${item.mime}) could not be read: ${(err as Error).message}. Tell the user to send it again.]`);
          }
          continue;
        }
        notes.push(await describe(item, vision, access, log));
      }
      return {
        ...rest,
        content: notes.length ? `${rest.content}\n\n${notes.join("\n")}` : rest.content,
        ...(images.length ? { images: [...(rest.images ?? []), ...images] } : {}),
      };
    }),
  );
}

async function readItem(item: Media, access: MediaAccess | undefined): Promise<Uint8Array> {
  if (item.data !== undefined) return Buffer.from(item.data, "base64");
  if (!access) throw new Error(`media ${item.object} is stored in LYRA_MEDIA and this caller has no mesh connection to fetch it`);
  return access.read(item);
}

async function describe(item: Media, vision: boolean, access: MediaAccess | undefined, log: Logger): Promise<string> {
  let ref = item.object;
  if (ref === undefined && access) {
    try {
      ref = (await access.store(item)).object;
    } catch (err) {
      log.warn({ err }, "an inline attachment could not be stored for a reference");
    }
  }
  const what = `${item.kind} (${item.mime}, ${item.size} bytes${ref ? `, reference ${ref}` : ""})`;
  if (item.kind !== "image") return `[The user attached ${what}; you cannot listen to audio.]`;
  return vision
    ? `[The user attached ${what}.]`
    : `[The user attached an ${what}. You cannot see images: if a describe_image tool is offered, call it with this reference; ` +
        `otherwise say you cannot see it.]`;
}
