/**
 * Failover that continues, on the real model: two `lyra agent` processes (hosts a and b, child
 * processes) serve the voice role on one real Ollama with its small chat model. A streamed answer
 * goes to one of them (its ack's Lyra-Host, read from a tap on the caller's inbox prefix, says
 * which); that one is SIGKILLed mid-answer; the caller re-issues to the other. Two ways, alternated
 * run by run so the machine's load hits both alike:
 *   continue — the re-issue carries the text already streamed and the survivor continues it;
 *   baseline — the old behaviour (CallOptions.resume false): the survivor answers afresh and the
 *              caller skips as many characters as it had shown.
 * Figures: the repeated or restarted characters in the final reply (the call's result text, which
 * the log and the next step get), and the time from the kill to the next new text.
 */
import { once } from "node:events";
import { connectMesh } from "../../mesh/connect.ts";
import { createRoleClient, type RoleClient } from "../../mesh/rolecall/index.ts";
import { Header, responseText, type RoleRequest } from "../../schemas/index.ts";
import { runLyra, type CliProcess } from "../harness/committee-fixture.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, startOllama } from "../harness/real.ts";
import { agentYaml, childEnv, writeTempFile } from "../integration/agents/helpers.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, rounded, summarize } from "./stats.ts";

const INBOX_PREFIX = "_INBOX_bench_continue";
const HOSTS = ["a", "b"] as const;
/** Response chunks (about one token each) streamed before the kill. */
const KILL_AFTER_CHUNKS = 10;
const MAX_TOKENS = 48;
/** A repeat of the answer's opening shorter than this is a common word or two, not a restart. */
const MIN_REPEAT_CHARS = 12;
/** Sampling as a deployment would (temperature > 0): a re-run writes another answer. */
const REQUEST: RoleRequest = {
  messages: [{ role: "user", content: "Describe the sea in three sentences." }],
  options: { temperature: 0.8, max_tokens: MAX_TOKENS },
};

/** One run's figures. */
interface Run {
  /** The reply does not start with what was streamed before the kill: that many characters were restarted. */
  restarted: number;
  /** The longest run of the answer's opening (≥ MIN_REPEAT_CHARS) that the rest of the reply repeats. */
  repeated: number;
  killToNewTextMs: number;
  prefixChars: number;
  resumed: boolean;
}

/**
 * Repeated or restarted text of a reply whose first `prefix` was streamed before the kill: a reply
 * that does not start with the prefix restarted it (all of it counts); otherwise the continuation
 * must not repeat the opening: the longest prefix of the prefix found again in the continuation.
 */
export function repetition(reply: string, prefix: string): { restarted: number; repeated: number } {
  if (!reply.startsWith(prefix)) return { restarted: prefix.length, repeated: 0 };
  const rest = reply.slice(prefix.length).toLowerCase();
  const opening = prefix.trimStart().toLowerCase();
  let n = 0;
  while (n < opening.length && rest.includes(opening.slice(0, n + 1))) n++;
  return { restarted: 0, repeated: n >= MIN_REPEAT_CHARS ? n : 0 };
}

function startAgent(host: string, config: string): CliProcess {
  return runLyra(["agent", "--host", host, "--config", config, "--metrics-port", "0"], childEnv());
}

async function oneRun(client: RoleClient, ackHosts: string[], agents: Map<string, CliProcess>, resume: boolean): Promise<Run> {
  ackHosts.length = 0;
  const stream = client.stream("voice", REQUEST, { resume, keepAliveGapMs: 1000 });
  let shown = "";
  let chunks = 0;
  let prefix: string | undefined;
  let killedAt: number | undefined;
  let newTextAt: number | undefined;
  for await (const c of stream) {
    if (c.type !== "response") continue;
    const t = responseText(c);
    if (killedAt !== undefined) newTextAt ??= performance.now();
    shown += t;
    if (killedAt === undefined && ++chunks === KILL_AFTER_CHUNKS) {
      const victim = agents.get(ackHosts[0] ?? "");
      if (!victim) throw new Error(`no ack host seen for the call (tap saw ${JSON.stringify(ackHosts)})`);
      prefix = shown;
      killedAt = performance.now();
      victim.proc.kill("SIGKILL");
      await once(victim.proc, "exit").catch(() => undefined);
    }
  }
  const result = await stream.result;
  if (prefix === undefined || killedAt === undefined || newTextAt === undefined)
    throw new Error(`the answer ended before the kill and a new word (${chunks} chunks: ${JSON.stringify(shown)})`);
  return {
    ...repetition(result.text, prefix),
    killToNewTextMs: newTextAt - killedAt,
    prefixChars: prefix.length,
    resumed: (result.resumed?.length ?? 0) > 0,
  };
}

export async function continueSection(ctx: BenchContext): Promise<SectionResult> {
  const reps = ctx.quick ? 2 : 3;
  await using server = await startNatsServer({ jetstream: false });
  await using ollama = await startOllama({ parallel: 2 });
  const roles = { voice: { model: CHAT_MODEL, first_token_timeout_ms: 120_000, keep_alive: "10m", slots: 1 } };
  const hosts = Object.fromEntries(HOSTS.map((h) => [h, { roles: ["voice"], ollama_url: ollama.url }]));
  const config = writeTempFile(agentYaml({ natsUrl: server.url, roles, hosts }));
  const agents = new Map<string, CliProcess>();
  const up = async (h: string) => {
    const p = startAgent(h, config);
    agents.set(h, p);
    await p.waitFor(/agent host serving/, 120_000);
  };
  await using caller = await connectMesh({ servers: server.url, name: "bench-continue-caller", inboxPrefix: INBOX_PREFIX });
  await using tap = await connectMesh({ servers: server.url, name: "bench-continue-tap" });
  const ackHosts: string[] = [];
  tap.nc.subscribe(`${INBOX_PREFIX}.>`, {
    callback: (err, m) => {
      const host = m?.headers?.get(Header.Host);
      if (!err && host) ackHosts.push(host);
    },
  });
  await tap.nc.flush();
  const client = createRoleClient(caller, { timeoutMs: 300_000 });
  const runs: Record<"continue" | "baseline", Run[]> = { continue: [], baseline: [] };
  try {
    await Promise.all(HOSTS.map(up));
    await client.call("voice", { ...REQUEST, options: { max_tokens: 4 } }); // loads the model
    for (let i = 0; i < reps * 2; i++) {
      const mode = i % 2 === 0 ? "continue" : "baseline";
      const r = await oneRun(client, ackHosts, agents, mode === "continue");
      runs[mode].push(r);
      ctx.progress(`continue (${mode}) ${runs[mode].length}/${reps}: restarted ${r.restarted}, repeated ${r.repeated} chars`);
      for (const h of HOSTS) if (agents.get(h)!.proc.exitCode !== null || agents.get(h)!.proc.signalCode !== null) await up(h);
    }
  } finally {
    await client.close();
    for (const p of agents.values()) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill("SIGKILL");
    await Promise.all([...agents.values()].map((p) => p.exited));
  }
  return report(runs);
}

function report(runs: Record<"continue" | "baseline", Run[]>): SectionResult {
  const sum = (rs: Run[], f: (r: Run) => number) => rs.reduce((n, r) => n + f(r), 0);
  const rows = [["way", "N", "restarted chars", "repeated chars", "resumed", "kill → new text p50 ms", "max ms"]];
  const figures = Object.fromEntries(
    Object.entries(runs).map(([mode, rs]) => {
      const t = summarize(rs.map((r) => r.killToNewTextMs));
      rows.push([
        mode,
        String(rs.length),
        String(sum(rs, (r) => r.restarted)),
        String(sum(rs, (r) => r.repeated)),
        `${rs.filter((r) => r.resumed).length}/${rs.length}`,
        fmt(t.p50),
        fmt(t.max),
      ]);
      return [mode, { runs: rs, kill_to_new_text_ms: rounded(t) }];
    }),
  );
  const bad = sum(runs.continue, (r) => r.restarted + r.repeated);
  return {
    name: "continue",
    title: "Failover that continues (real model)",
    table: rows,
    notes: [
      `two lyra agent processes on one real Ollama (${CHAT_MODEL}, temperature 0.8, ${MAX_TOKENS} tokens); ` +
        `the streaming one SIGKILLed after ${KILL_AFTER_CHUNKS} chunks; modes alternate run by run`,
      "restarted = the reply does not start with the text streamed before the kill (all of it counts); " +
        `repeated = the longest run (≥ ${MIN_REPEAT_CHARS} chars) of the answer's opening found again after it`,
      "kill → new text = the kill to the first response chunk after it (the survivor's first new word)",
    ],
    json: { model: CHAT_MODEL, kill_after_chunks: KILL_AFTER_CHUNKS, max_tokens: MAX_TOKENS, ...figures },
    targets: [
      {
        name: "Repeated or restarted text after a mid-answer SIGKILL",
        goal: "0 characters (continue)",
        figure: `${bad} chars (baseline ${sum(runs.baseline, (r) => r.restarted + r.repeated)})`,
        met: bad === 0,
      },
    ],
  };
}
