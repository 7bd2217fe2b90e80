export { startDiscordAdapter, Say, type DiscordAdapter, type DiscordAdapterOptions } from "./adapter.ts";
export { splitMessage, DISCORD_MESSAGE_LIMIT } from "./split.ts";
export { userRateLimiter, channelSlots } from "./limits.ts";
export { createFrontdoorMetrics, Outcome, DOOR, type FrontdoorMetrics } from "./metrics.ts";
export { SLASH_COMMANDS, statusEmbed } from "./commands.ts";
export { channelOfConversation, STATE_BUCKET, SENT_BUCKET } from "./state.ts";
export { NO_PINGS } from "./rest.ts";
