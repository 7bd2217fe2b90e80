/**
 * `lyra up --demo`: a short conversation through the inbox, the replies streamed as they come, and
 * after each turn what the log says happened (backend, model, tokens, time, tools called). The
 * prompts are ones a 135M model can serve: a clock question, something to remember, a why-question,
 * and a question whose answer only the memory holds. Nothing is claimed that the log does not show.
 */
import { randomUUID } from "node:crypto";
import { readConversation, publishInbox, watchReplies, type Mesh } from "../../mesh/index.ts";
import { formatEvent } from "./commands/log.ts";
import { formatTurnSummary, summarizeTurn } from "./turn-summary.ts";

export const DEMO_CONVERSATION = [
  "What time is it?",
  "Remember that my cat is called Miso.",
  "Why do people love cats?",
  "What is my cat called?",
];

/** The memory recall found a memory: its result lists entries as `#<id>`. */
const recalled = (outcome: string | undefined) => /#\d+/.test(outcome ?? "");

export async function runDemo(mesh: Mesh, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const conversation = `demo-${randomUUID().slice(0, 8)}`;
  for (const text of DEMO_CONVERSATION) {
    const id = `d${randomUUID().slice(0, 12)}`;
    out.write(`\nyou: ${text}\n`);
    const watch = watchReplies(mesh, "cli", conversation, id);
    await mesh.nc.flush();
    await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: "demo" }, text, ts: Date.now() });
    let step: string | undefined;
    for await (const o of watch) {
      if (o.final) {
        out.write(`\n  ✓ reply stored in the outbox (specialist: ${o.specialist}${o.error ? `; failed: ${o.error}` : ""})\n`);
        break;
      }
      if (step === "voice" && o.step !== "voice") continue; // the pipelined voice has begun: only its text is printed
      if (o.step !== step) out.write(`${step ? "\n" : ""}  [${o.role ?? o.step}] `);
      step = o.step;
      out.write(o.text);
    }
    const s = summarizeTurn(await readConversation(mesh, conversation), id);
    out.write(`  what the log shows:\n${formatTurnSummary(s).join("\n")}\n`);
    for (const t of s.tools.filter((t) => t.name.endsWith(".recall"))) {
      out.write(`  memory: ${recalled(t.outcome) ? "recalled what this user told earlier" : "nothing recalled"}\n`);
    }
  }
  out.write(`\n--- conversation log (lyra log ${conversation}) ---\n`);
  for (const e of await readConversation(mesh, conversation)) out.write(formatEvent(e) + "\n");
}
