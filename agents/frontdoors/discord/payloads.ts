/**
 * The gateway payloads the adapter acts on, validated before use (discord.js caches its own view;
 * what Lyra publishes comes from these checked fields only). Shapes from Discord's documented
 * Message, Attachment and Interaction objects (API v10).
 */
import { z } from "zod";

export const Snowflake = z.string().regex(/^[0-9]{1,20}$/, "is not a Discord snowflake");

const User = z.looseObject({ id: Snowflake, username: z.string().max(256).optional(), bot: z.boolean().optional() });

export const DiscordAttachment = z.looseObject({
  id: Snowflake,
  filename: z.string().min(1).max(1024),
  size: z.number().int().nonnegative(),
  url: z.url(),
  content_type: z.string().max(256).optional(),
});
export type DiscordAttachment = z.infer<typeof DiscordAttachment>;

/** MESSAGE_CREATE's `d`. */
export const MessageCreate = z.looseObject({
  id: Snowflake,
  channel_id: Snowflake,
  guild_id: Snowflake.optional(),
  author: User,
  content: z.string().max(4000),
  mentions: z
    .array(z.looseObject({ id: Snowflake }))
    .max(1000)
    .default([]),
  attachments: z.array(DiscordAttachment).max(10).default([]),
  /** 0 DEFAULT, 19 REPLY; system messages (joins, pins...) are not questions. */
  type: z.number().int().optional(),
});
export type MessageCreate = z.infer<typeof MessageCreate>;

const CommandOption = z.looseObject({
  name: z.string().min(1).max(32),
  type: z.number().int(),
  value: z.union([z.string(), z.number(), z.boolean()]).optional(),
});

/** INTERACTION_CREATE's `d`, application commands (type 2) only. */
export const CommandInteraction = z
  .looseObject({
    id: Snowflake,
    application_id: Snowflake,
    type: z.literal(2),
    token: z.string().min(1).max(1024),
    channel_id: Snowflake,
    guild_id: Snowflake.optional(),
    member: z.looseObject({ user: User }).optional(),
    user: User.optional(),
    data: z.looseObject({ name: z.string().min(1).max(32), options: z.array(CommandOption).max(25).default([]) }),
  })
  .refine((i) => i.member?.user ?? i.user, { message: "an interaction needs member.user (guild) or user (DM)" });
export type CommandInteraction = z.infer<typeof CommandInteraction>;

/** The user of an interaction: member.user in a guild, user in a DM. */
export const interactionUser = (i: CommandInteraction) => (i.member?.user ?? i.user)!;

/** Why a payload was refused, in one line: the first issue's path and message. */
export function whyInvalid(err: z.ZodError): string {
  const i = err.issues[0];
  return i ? `${i.path.join(".") || "(payload)"}: ${i.message}` : "invalid";
}
