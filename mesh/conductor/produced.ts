/**
 * Media the specialist's tools produce (the artist's images, speech audio) go with the reply.
 * They go in the order the model called the tools: results arrive as each call finishes.
 */
import type { LogEvent, Media } from "../../schemas/index.ts";
import type { ToolEventSink } from "./toollog.ts";

/** At most this many media go with one reply. */
const MAX_MEDIA = 16;

export interface ProducedMedia {
  /** Notes a tool event: a call fixes its place in the order, a result brings its media. */
  note(c: Parameters<ToolEventSink>[0]): void;
  /** The media so far, in tool-call order. */
  list(): Media[];
}

/** Starts from what an earlier run of the turn logged (a re-run keeps the media it produced). */
export function producedMedia(prior: readonly LogEvent[], turn: string): ProducedMedia {
  const callOrder = new Map<string, number>();
  const order = (call: string) => callOrder.get(call) ?? callOrder.set(call, callOrder.size).get(call)!;
  const produced = new Map<string, { media: Media; at: number }>();
  const keep = (call: string, ms: readonly Media[] | undefined) =>
    ms?.forEach((m, i) => produced.size < MAX_MEDIA && produced.set(m.object ?? m.data ?? "", { media: m, at: order(call) * 1000 + i }));
  for (const e of prior) {
    if (e.turn !== turn) continue;
    if (e.type === "tool_call") order(e.call ?? "");
    else if (e.type === "tool_result") keep(e.call ?? "", e.media);
  }
  return {
    note(c) {
      if (c.type === "tool_call") order(c.data.id);
      else keep(c.data.id, c.data.media);
    },
    list: () => [...produced.values()].sort((a, b) => a.at - b.at).map((p) => p.media),
  };
}
