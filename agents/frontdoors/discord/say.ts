/** What the adapter says to a user when it cannot answer normally. */
export const Say = {
  rateLimited: (s: number) => `You're sending messages faster than I can answer. Please wait ${s} s and try again.`,
  busy: "I'm still answering in this channel. Please wait for that reply, then ask again.",
  failed: "Sorry, something went wrong and I could not answer that. Please try again.",
  empty: "What would you like to ask?",
};
