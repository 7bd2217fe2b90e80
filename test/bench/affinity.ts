/**
 * Warm-cache affinity on the real model: two real Ollama instances (two slots each, the small chat
 * model on one thread), two agent hosts serving the specialist `pragmatist`, one on each, and
 * CONVERSATIONS conversations of 10 turns each, their turns sent together, as users share a busy
 * mesh; the history grows to ~1.5k tokens. Each turn's request is what the conductor sends (system
 * prompt, then the history, then the new message). Run with affinity (the default dispatcher) and
 * with round robin over the two replicas (affinity off, alternating call by call, so each
 * conversation changes replica every turn and finds the slots holding other conversations);
 * reported: the specialist's prompt-eval time and tokens (Ollama's prompt_eval_duration /
 * prompt_eval_count, carried in the final chunk through the mesh) on the follow-up turns.
 */
import { rmSync } from "node:fs";
import { connectMesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createRoleClient, type RoleClient } from "../../mesh/rolecall/index.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import type { ChatMessage } from "../../schemas/index.ts";
import { startAgentHost } from "../../agents/host/host.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { eventually } from "../harness/eventually.ts";
import { CHAT_MODEL, startOllama } from "../harness/real.ts";
import { privateStore } from "./real-model.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, round, summarize } from "./stats.ts";

const MODEL = "lyra-bench-chat:1t";
const TURNS = 10;
/** More conversations than one replica has slots, fewer than both have: affinity can keep each warm. */
const CONVERSATIONS = 3;
const SLOTS = 2;
const MAX_TOKENS = 8;
/** Follow-up turns' prompt-eval time, round robin over affinity. */
const TARGET_RATIO = 2;
const SYSTEM =
  "You are the pragmatist of a small assistant committee. Answer the user's last message in a few words, " +
  "concretely, without preamble. The conversation so far is context; do not repeat it. ".repeat(4);
/** A user message of ~130 tokens: a paragraph of notes, then the question. */
const userMessage = (turn: number) =>
  `Notes for step ${turn}: the garden has ${turn + 3} raised beds along the south fence, each four metres long, ` +
  `watered by a drip line on a timer that runs at six in the morning and again at eight in the evening. ` +
  `Bed ${turn} holds tomatoes, basil and marigolds; the soil was mulched with straw last week and fed with compost. ` +
  `Slugs were seen near the path after rain, and the ${turn % 2 ? "east" : "west"} corner stays wet for two days. ` +
  `The plan is to add a trellis, move the herbs into pots and test the soil's pH before the autumn planting. ` +
  `Question ${turn}: what is the one thing to do first?`;

function yaml(natsUrl: string, urls: [string, string]): string {
  const role = (kind: string, extra = "") =>
    `{ kind: ${kind}, model: "${MODEL}", backend: ollama, temperature: 0, max_tokens: ${MAX_TOKENS}, ` +
    `keep_alive: 10m, first_token_timeout_ms: 120000, num_ctx: 4096, slots: ${SLOTS}${extra} }`;
  return `
mesh: { name: bench, owner: bench }
nats: { servers: ["${natsUrl}"] }
roles:
  router: ${role("router")}
  pragmatist: ${role("specialist", `, description: practical answers, system_prompt: "${SYSTEM}"`)}
  voice: ${role("voice")}
router: { default_specialist: pragmatist }
hosts:
  gpu-1: { ollama_url: "${urls[0]}", roles: [pragmatist] }
  gpu-2: { ollama_url: "${urls[1]}", roles: [pragmatist] }
`;
}

interface Turn {
  host: string;
  route: string;
  promptMs: number;
  promptTokens: number;
}

/** CONVERSATIONS conversations of TURNS turns through `client`, turn t of each sent together; the history as the conductor renders it. */
async function conversations(client: RoleClient, ids: string[]): Promise<Turn[][]> {
  const histories = ids.map((): ChatMessage[] => []);
  const turns = ids.map((): Turn[] => []);
  for (let t = 1; t <= TURNS; t++) {
    await Promise.all(
      ids.map(async (id, c) => {
        const user: ChatMessage = { role: "user", content: userMessage(t + 100 * c) };
        const r = await client.call("pragmatist", { messages: [...histories[c]!, user], conversation: id }, { timeoutMs: 300_000 });
        histories[c]!.push(user, { role: "assistant", content: r.text });
        turns[c]!.push({
          host: r.host,
          route: r.route ?? "",
          promptMs: Number(r.final.timings.prompt_eval_ms ?? 0),
          promptTokens: r.final.usage.prompt_tokens,
        });
      }),
    );
  }
  return turns;
}

export async function affinity(ctx: BenchContext): Promise<SectionResult> {
  ctx.progress(`affinity: starting two ollama serve (${CHAT_MODEL}, ${SLOTS} slots each) and nats-server`);
  const store = privateStore();
  await using _store = { [Symbol.asyncDispose]: async () => rmSync(store, { recursive: true, force: true }) };
  const env = { OLLAMA_MODELS: store };
  await using ollamaA = await startOllama({ parallel: SLOTS, env });
  const created = await fetch(`${ollamaA.url}/api/create`, {
    method: "POST",
    body: JSON.stringify({ model: MODEL, from: CHAT_MODEL, parameters: { num_thread: 1 }, stream: false }),
  });
  if (!created.ok) throw new Error(`Ollama could not derive ${MODEL} from ${CHAT_MODEL}: ${created.status} ${await created.text()}`);
  await using ollamaB = await startOllama({ parallel: SLOTS, env });
  await using server = await startNatsServer();
  const config = parseMeshConfig(yaml(server.url, [ollamaA.url, ollamaB.url]), { source: "affinity bench", env: {} });
  await using mesh1 = await connectMesh({ servers: server.url, name: "bench-affinity-gpu-1" });
  await using mesh2 = await connectMesh({ servers: server.url, name: "bench-affinity-gpu-2" });
  await using caller = await connectMesh({ servers: server.url, name: "bench-affinity-caller" });
  const host = (name: string, mesh: typeof mesh1) =>
    startAgentHost({ config, host: name, mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  await using _h1 = await host("gpu-1", mesh1);
  await using _h2 = await host("gpu-2", mesh2);
  await using sticky = createRoleClient(caller);
  await using robin = createRoleClient(caller, { dispatcher: { affinity: false, roundRobin: true } });

  ctx.progress("affinity: loading the model on both replicas");
  const warm = new Set<string>();
  await eventually(
    "both replicas answered a direct call",
    async () => {
      const r = await robin.call("pragmatist", "Say hi.", { timeoutMs: 120_000 });
      if (!r.route?.startsWith("queue group")) warm.add(r.host);
      return warm.size === 2;
    },
    { timeoutMs: 180_000 },
  );

  const runs = { affinity: [] as Turn[][], robin: [] as Turn[][] };
  await ctx.measure("affinity-conversations", async () => {
    const ids = (way: string) => Array.from({ length: CONVERSATIONS }, (_, c) => `bench-${way}-${c}`);
    ctx.progress(`affinity: ${CONVERSATIONS} conversations of ${TURNS} turns with affinity, then the same round robin`);
    runs.affinity.push(...(await conversations(sticky, ids("affinity"))));
    runs.robin.push(...(await conversations(robin, ids("robin"))));
  });
  return report(runs);
}

function report(runs: { affinity: Turn[][]; robin: Turn[][] }): SectionResult {
  const followUps = (w: Turn[][]) => w.flatMap((c) => c.slice(1));
  const stat = (w: Turn[][], f: (t: Turn) => number) => summarize(followUps(w).map(f));
  const s = {
    affinity: { ms: stat(runs.affinity, (t) => t.promptMs), tokens: stat(runs.affinity, (t) => t.promptTokens) },
    robin: { ms: stat(runs.robin, (t) => t.promptMs), tokens: stat(runs.robin, (t) => t.promptTokens) },
  };
  const mean = (w: Turn[][], f: (t: Turn) => number) => followUps(w).reduce((a, t) => a + f(t), 0) / Math.max(1, followUps(w).length);
  const ratio =
    mean(runs.robin, (t) => t.promptMs) /
    Math.max(
      1e-9,
      mean(runs.affinity, (t) => t.promptMs),
    );
  const stuck = followUps(runs.affinity).filter((t) => t.route.includes("affinity: served")).length;
  const lastTurnTokens = runs.affinity.map((c) => c.at(-1)!).map((t) => t.promptTokens);
  const row = (name: string, x: typeof s.affinity) => [
    name,
    fmt(
      mean(name === "affinity" ? runs.affinity : runs.robin, (t) => t.promptMs),
      " ms",
    ),
    fmt(x.ms.p50, " ms"),
    fmt(x.ms.p95, " ms"),
    fmt(x.tokens.p50),
  ];
  return {
    name: "affinity",
    title: `Warm-cache affinity: ${CONVERSATIONS} conversations × ${TURNS} turns, 2 Ollama replicas × ${SLOTS} slots, prompt eval`,
    table: [
      ["dispatch", "prompt eval mean", "p50", "p95", "prompt p50 (tokens)"],
      row("affinity", s.affinity),
      row("round robin", s.robin),
    ],
    notes: [
      `${CONVERSATIONS} conversations each way, their turns sent together, ${TURNS} turns, ${MAX_TOKENS} tokens per answer; ` +
        "turn 1 left out (cold either way).",
      `affinity kept ${stuck} of ${followUps(runs.affinity).length} follow-up turns on the replica of the turn before; ` +
        `the last turn's prompt: ${lastTurnTokens.join(", ")} tokens (Ollama's prompt_eval_count counts the whole prompt, cached or not: ` +
        "the time shows the cache).",
      "Round robin changes each conversation's replica every turn, where the slots hold other conversations' prompts.",
    ],
    json: {
      conversations: CONVERSATIONS,
      slots: SLOTS,
      turns: TURNS,
      ratio: round(ratio),
      affinity: s.affinity,
      robin: s.robin,
      stuck,
      runs,
    },
    targets: [
      {
        name: "follow-up turn's prompt-eval time, round robin over affinity",
        goal: `≥ ${TARGET_RATIO} × lower with affinity`,
        figure: `${fmt(
          mean(runs.robin, (t) => t.promptMs),
          " ms",
        )} vs ${fmt(
          mean(runs.affinity, (t) => t.promptMs),
          " ms",
        )} (${round(ratio)} ×)`,
        met: ratio >= TARGET_RATIO,
      },
    ],
  };
}
