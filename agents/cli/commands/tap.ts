import { defineCommand } from "../command.ts";
import { cliConnect, describeBody, headerRecord, natsHelp, natsOption } from "../shared.ts";
import { Chunk, Header, LogEvent } from "../../../schemas/index.ts";
import { roleOfSubject } from "../../../mesh/index.ts";
import { formatToolEvent } from "./log.ts";

export const tap = defineCommand({
  name: "tap",
  summary: "Live, decoded view of mesh traffic (msgpack and JSON bodies shown as JSON, with headers).",
  usage: "[SUBJECT] [--conversation ID] [--role ROLE] [--json]",
  options: {
    ...natsOption,
    conversation: { type: "string", short: "c" },
    role: { type: "string", short: "r" },
    json: { type: "boolean" },
  },
  help: {
    ...natsHelp,
    conversation: "only messages of this conversation (Lyra-Conversation header or subject)",
    role: "only requests to and replies from this role (Lyra-Role / subject lyra.<role> or agents.<verb>.lyra.<owner>.<role>)",
    json: "one JSON object per line",
  },
  details:
    "SUBJECT defaults to 'lyra.>' (without the replicas' capacity state: tap 'lyra.state.>' for it; requests and acks show the " +
    "routing decision as Lyra-Route); try 'agents.>' for Agent Protocol traffic (prompts on agents.prompt.lyra.<owner>.<role>, " +
    "heartbeats on agents.hb.lyra.<owner>.<role>) or '>' for everything.",
  async run(values, positionals) {
    const subject = positionals[0] ?? "lyra.>";
    // Replicas' capacity state comes every 500 ms from each: shown when asked for ('lyra.state.>').
    const hideState = positionals[0] === undefined;
    const mesh = await cliConnect(values, "lyra-tap");
    const sub = mesh.nc.subscribe(subject);
    const stop = () => sub.unsubscribe();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    process.stderr.write(`tapping ${subject} (Ctrl-C to stop)\n`);
    const conv = values.conversation as string | undefined;
    const role = values.role as string | undefined;
    for await (const m of sub) {
      if (hideState && m.subject.startsWith("lyra.state.")) continue;
      const h = headerRecord(m.headers);
      if (conv && h[Header.Conversation] !== conv && !m.subject.includes(`.${conv}`)) continue;
      if (role && h[Header.Role] !== role && roleOfSubject(m.subject) !== role && h[Header.Host] === undefined) continue;
      const body = describeBody(m.data, m.headers);
      if (values.json) {
        process.stdout.write(JSON.stringify({ subject: m.subject, reply: m.reply, headers: h, body }) + "\n");
      } else {
        const hs = Object.entries(h)
          .map(([k, v]) => `${k}=${v}`)
          .join(" ");
        const shown = toolLine(body) ?? (typeof body === "string" ? body : JSON.stringify(body));
        process.stdout.write(
          `${new Date().toISOString()} ${m.subject}${m.reply ? ` → ${m.reply}` : ""}${hs ? `  [${hs}]` : ""}\n  ${shown}\n`,
        );
      }
    }
    await mesh.close();
    return 0;
  },
});

/**
 * Tool calls and results read as `lyra log` prints them, whether they pass as conversation log
 * events (`lyra.log.>`) or as a specialist's reply chunks; anything else is undefined.
 */
export function toolLine(body: unknown): string | undefined {
  const type = (body as { type?: unknown } | null)?.type;
  if (type !== "tool_call" && type !== "tool_result") return undefined;
  const ev = LogEvent.safeParse(body);
  if (ev.success && (ev.data.type === "tool_call" || ev.data.type === "tool_result")) return formatToolEvent(ev.data);
  const c = Chunk.safeParse(body);
  if (!c.success) return undefined;
  if (c.data.type === "tool_call") {
    const d = c.data.data;
    return formatToolEvent({
      type: "tool_call",
      ts: 0,
      conversation: "",
      turn: "",
      role: "",
      tool: d.tool ?? d.name,
      arguments: d.arguments,
      server: d.server,
      host: d.host,
    });
  }
  if (c.data.type !== "tool_result") return undefined;
  const d = c.data.data;
  return formatToolEvent({
    type: "tool_result",
    ts: 0,
    conversation: "",
    turn: "",
    role: "",
    tool: d.tool ?? d.name,
    outcome: d.content,
    is_error: d.is_error,
    server: d.server,
    status: d.status,
    latency_ms: d.latency_ms,
    cached: d.cached,
  });
}
