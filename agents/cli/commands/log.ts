import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { LogEvent, type Media } from "../../../schemas/index.ts";
import { decodeBody, StreamName, subjects } from "../../../mesh/index.ts";
import { defineCommand, UsageError } from "../command.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";

export const log = defineCommand({
  name: "log",
  summary: "A conversation's history from the JetStream log: every step, with host, backend, model and timings.",
  usage: "CONVERSATION [--follow] [--json]",
  options: { ...natsOption, follow: { type: "boolean", short: "f" }, json: { type: "boolean" } },
  help: { ...natsHelp, follow: "keep printing new events", json: "one JSON event per line" },
  async run(values, positionals) {
    const conversation = positionals[0];
    if (!conversation) throw new UsageError("which conversation? 'lyra ask' prints its id");
    const subject = subjects.log(conversation);
    const mesh = await cliConnect(values, "lyra-log");
    try {
      const js = jetstream(mesh.nc);
      const c = await js.consumers.get(StreamName.Log, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
      const info = await c.info(true);
      if (info.num_pending === 0 && !values.follow) {
        process.stderr.write(`no events for conversation '${conversation}'\n`);
        return 1;
      }
      const msgs = await c.consume();
      const stop = () => msgs.stop();
      process.once("SIGINT", stop);
      for await (const m of msgs) {
        try {
          const e = decodeBody(LogEvent, m, "log event");
          process.stdout.write((values.json ? JSON.stringify(e) : formatEvent(e)) + "\n");
        } catch (err) {
          process.stdout.write(`#${m.seq} (unreadable: ${(err as Error).message})\n`);
        }
        if (!values.follow && m.info.pending === 0) break;
      }
      return 0;
    } finally {
      await mesh.close();
    }
  },
});

export function formatEvent(e: LogEvent): string {
  const t = new Date(e.ts).toISOString().slice(11, 23);
  const m = e as {
    host?: string;
    backend?: string;
    model?: string;
    latency_ms?: number;
    route?: string;
    resumed?: { at: number; from: string; to: string }[];
    cache?: string;
    cache_similarity?: number;
    variant?: string;
  };
  const where = m.host ? ` @${m.host}` : "";
  const how = (m.backend ? ` ${m.backend}${m.model ? `/${m.model}` : ""}` : "") + (m.variant ? ` variant ${m.variant}` : "");
  const lat = m.latency_ms;
  const ms = lat !== undefined ? ` ${Math.round(lat)}ms` : "";
  // Where the caller sent the step and why (capacity-aware dispatch), and where a dead replica's answer was continued.
  const resumes = (m.resumed ?? []).map((r) => `resumed at ${r.at} chars: ${r.from || "?"} → ${r.to}`);
  // A response cache hit (or a bypass) of the step's role call.
  const cached =
    m.cache === "exact" || m.cache === "semantic"
      ? `cache hit (${m.cache}${m.cache_similarity !== undefined ? ` ${m.cache_similarity.toFixed(2)}` : ""})`
      : m.cache === "bypass"
        ? "cache bypassed"
        : undefined;
  const notes = [m.route, ...resumes, cached].filter(Boolean);
  const via = notes.length ? `  [${notes.join("; ")}]` : "";
  switch (e.type) {
    case "user_message":
      return `${t} user ${e.user.id}: ${e.text}${mediaNote(e.media)}`;
    case "routed":
      return `${t} routed → ${e.specialist}${routedBy(e)}${where}${how}${ms}${via}`;
    case "specialist_started":
      return `${t} ${e.specialist} started`;
    case "specialist_finished":
      return `${t} ${e.specialist}${where}${how}${ms}: ${e.text}${via}`;
    case "voice_segment": {
      const indent = " ".repeat(t.length);
      return `${t} voice piece ${e.index + 1}${where}${how}${ms}: ${oneLine(e.text)}${via}\n${indent}   draft: ${oneLine(e.draft)}`;
    }
    case "voice_reply":
      return `${t} voice${e.segments ? ` (${e.segments} pieces)` : `${where}${how}${ms}`}: ${e.text}${e.segments ? "" : via}`;
    case "tool_call":
    case "tool_result":
      return `${t} ${formatToolEvent(e)}`;
    case "fallback_used":
      return `${t} fallback for ${e.role}: ${e.reason}${e.backend ? ` (${e.backend})` : ""}`;
    case "error":
      return `${t} ERROR in ${e.step}${e.variant ? ` (variant ${e.variant})` : ""} [${e.code}]: ${e.message}`;
    case "usage": {
      const who = `${e.channel} ${e.user ?? "?"} ${e.role ?? "?"}`;
      return `${t} usage ${who}${where}${how}${ms}: ${e.tokens_in ?? 0} in, ${e.tokens_out ?? 0} out`;
    }
    case "shadow_answer":
      return `${t} shadow ${e.role} ${e.step}${where}${how}${ms} (not shown): ${e.error ? `ERROR ${e.error}` : oneLine(e.text)}`;
  }
}

/** A piece's text on one line (its paragraph breaks as ¶). */
const oneLine = (s: string) =>
  s
    .trim()
    .replace(/\s*\n\s*\n\s*/g, " ¶ ")
    .replace(/\s+/g, " ");

/**
 * Who chose and how sure: " by the classifier, confidence 0.82 (reason)", or " by the LLM router,
 * confidence 0.70; classifier 0.41, below its threshold (reason)"; older events: " (0.70: reason)".
 */
function routedBy(e: Extract<LogEvent, { type: "routed" }>): string {
  const c = e.confidence.toFixed(2);
  if (e.decided_by === "classifier") return ` by the classifier, confidence ${c} (${e.reason})`;
  const unsure = e.classifier_confidence !== undefined ? `; classifier ${e.classifier_confidence.toFixed(2)}, below its threshold` : "";
  if (e.decided_by === "llm") return ` by the LLM router, confidence ${c}${unsure} (${e.reason})`;
  return ` (${c}: ${e.reason}${unsure})`;
}

/** Longest tool outcome `lyra log` prints on one line; `--json` has the whole logged text. */
const SHOWN_OUTCOME_CHARS = 200;

/**
 * A tool call or result, readably: `tool  pragmatist@gpu-1 → clock.now {"timezone":"UTC"}` and
 * `  ← "Monday, 1 December 2026 at 00:10:00 UTC" (12 ms)` (or `  ← ERROR timeout: …`).
 */
export function formatToolEvent(e: Extract<LogEvent, { type: "tool_call" | "tool_result" }>): string {
  const x = e as { server?: string; host?: string; status?: string; latency_ms?: number; cached?: boolean };
  const name = x.server ? `${x.server}.${e.tool}` : e.tool;
  const who = `${e.role}${x.host ? `@${x.host}` : ""}`;
  if (e.type === "tool_call") return `tool  ${who ? `${who} ` : ""}→ ${name} ${JSON.stringify(e.arguments ?? {})}`;
  const flat = e.outcome.replace(/\s+/g, " ").trim();
  const shown = flat.length > SHOWN_OUTCOME_CHARS ? `${flat.slice(0, SHOWN_OUTCOME_CHARS)}…` : flat;
  const figures = [...(x.latency_ms !== undefined ? [`${Math.round(x.latency_ms)} ms`] : []), ...(x.cached ? ["cached"] : [])];
  const ms = figures.length ? ` (${figures.join(", ")})` : "";
  const err = e.is_error ? `ERROR${x.status && x.status !== "error" ? ` ${x.status}` : ""}: ` : "";
  return `  ← ${name}: ${err}${JSON.stringify(shown)}${ms}${mediaNote(e.media)}`;
}

/** Media an event carries, as ` [image/png 2000 B image/9c1f2a3b…]` per item. */
export function mediaNote(media: readonly Media[] | undefined): string {
  return (media ?? []).map((m) => ` [${m.mime} ${m.size} B ${m.object ? `${m.object.slice(0, m.kind.length + 9)}…` : "inline"}]`).join("");
}
