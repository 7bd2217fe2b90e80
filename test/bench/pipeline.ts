/**
 * The pipelined voice on the real model: committee turns whose answer is several paragraphs, N
 * pipelined and N sequential (conductor.pipeline false), interleaved turn by turn so the machine's
 * load hits both alike, the same config otherwise. Each turn: the time from the inbox publish to
 * the reply's first token (the voice's first non-empty partial on the outbox) and to the stored
 * reply. The router is scripted (instant) so the figures are the specialist's and the voice's.
 * As on the fleet the committee is for (the specialist and the voice on GPU hosts of their own),
 * the specialist and the voice each have an agent host and a real Ollama of their own, the model on
 * one thread each (the machine's two cores). Greedy decoding (temperature 0): both ways get the
 * same draft for a prompt.
 */
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { startConductor } from "../../mesh/conductor/index.ts";
import { publishInbox, watchReplies } from "../../mesh/frontdoor.ts";
import { createRoleClient } from "../../mesh/rolecall/index.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { parseMeshConfig, type MeshConfig } from "../../schemas/config.ts";
import type { CommitteeConfig } from "../../mesh/conductor/index.ts";
import { committeeFromConfig } from "../../agents/host/conductor-options.ts";
import { startAgentHost } from "../../agents/host/host.ts";
import { logOf } from "../integration/conductor/helpers.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, startOllama } from "../harness/real.ts";
import { deriveModel, MODEL, privateStore } from "./real-model.ts";
import type { BenchContext, SectionResult, Target } from "./report.ts";
import { fmt, round, rounded, summarize } from "./stats.ts";
import { rmSync } from "node:fs";

/** The specialist's and the voice's token cap (a pipelined voice's piece asks for fewer: its draft's tokens + 4). */
const MAX_TOKENS = 160;
const PROMPTS = [
  "Write three short paragraphs about tea: where it comes from, how to brew it, and why people like it.",
  "Write three short paragraphs about bicycles: their history, how to ride safely, and why cities like them.",
  "Write three short paragraphs about rain: what causes it, what it does for plants, and how to enjoy it.",
];
const TARGET_FIRST = 0.4;
const TARGET_TOTAL = 1.15;
const Way = { Pipelined: "pipelined", Sequential: "sequential" } as const;
type Way = (typeof Way)[keyof typeof Way];

function yaml(natsUrl: string, ollamaUrl: readonly [string, string]): string {
  const role = (kind: string) =>
    `{ kind: ${kind}, model: "${MODEL}", backend: ollama, temperature: 0, max_tokens: ${MAX_TOKENS}, ` +
    `num_ctx: 2048, keep_alive: 10m, first_token_timeout_ms: 120000, slots: 2 }`;
  return `
mesh: { name: bench, owner: bench }
nats: { servers: ["${natsUrl}"] }
roles:
  router:
    kind: router
    model: instant
    backend: scripted
    script: [{ json: { specialist: pragmatist, confidence: 1, reason: "the bench's scripted router" } }]
  pragmatist: ${role("specialist")}
  voice: ${role("voice")}
hosts:
  gpu-a: { ollama_url: "${ollamaUrl[0]}", roles: [router, pragmatist] }
  gpu-b: { ollama_url: "${ollamaUrl[1]}", roles: [voice] }
conductor: { ack_wait_ms: 30000, step_timeout_ms: 600000 }
`;
}

interface TurnFigures {
  first: number;
  /** The specialist's first token (its first non-empty partial). */
  draftFirst: number;
  total: number;
  reply: string;
  pieces: number;
  /** Tokens the voice wrote (over its pieces, pipelined). */
  voiceTokens: number;
  /** The specialist's last token, from the publish. */
  draftDone: number;
}

/** One turn through a conductor of its own (the way's committee), timed from the inbox publish. */
async function timedTurn(mesh: Mesh, committee: CommitteeConfig, conversation: string, text: string): Promise<TurnFigures> {
  await using _core = await startConductor(mesh, { roles: createRoleClient(mesh), committee, ackWaitMs: 30_000, stepTimeoutMs: 600_000 });
  const id = `${conversation}-1`;
  await using watch = watchReplies(mesh, "cli", conversation, id);
  await mesh.nc.flush();
  const t0 = performance.now();
  await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: "bench" }, text });
  let first: number | undefined;
  let draftFirst: number | undefined;
  let draftDone: number | undefined;
  for await (const o of watch) {
    if (!o.final) {
      if (o.step === "voice" && o.text.trim()) first ??= performance.now() - t0;
      if (o.step === "specialist" && o.text.trim()) {
        draftFirst ??= performance.now() - t0;
        draftDone = performance.now() - t0;
      }
      continue;
    }
    const total = performance.now() - t0;
    if (o.error) throw new Error(`pipeline bench turn ${conversation} failed: ${o.error}`);
    const log = await logOf(mesh, conversation);
    const pieces = log.filter((e) => e.type === "voice_segment");
    const voiced = pieces.length ? pieces : log.filter((e) => e.type === "voice_reply");
    const voiceTokens = voiced.reduce((n, e) => n + (e.tokens ?? 0), 0);
    return {
      first: first ?? total,
      draftFirst: draftFirst ?? total,
      draftDone: draftDone ?? total,
      total,
      reply: o.text,
      pieces: pieces.length,
      voiceTokens,
    };
  }
  throw new Error(`pipeline bench turn ${conversation}: no reply`);
}

export async function pipeline(ctx: BenchContext): Promise<SectionResult> {
  const n = ctx.quick ? 1 : 3;
  ctx.progress(`pipeline: starting two ollama serve (${CHAT_MODEL}, one for the specialist, one for the voice) and nats-server`);
  const store = privateStore();
  await using _store = { [Symbol.asyncDispose]: async () => rmSync(store, { recursive: true, force: true }) };
  await using ollamaA = await startOllama({ parallel: 1, env: { OLLAMA_MODELS: store } });
  await using ollamaB = await startOllama({ parallel: 1, env: { OLLAMA_MODELS: store } });
  await deriveModel(ollamaA.url);
  await using server = await startNatsServer();
  await using coreMesh = await connectMesh({ servers: server.url, name: "bench-pipeline-core" });
  const config = parseMeshConfig(yaml(server.url, [ollamaA.url, ollamaB.url]), { source: "pipeline bench", env: {} });
  await using _hostA = await startHost(config, "gpu-a", server.url);
  await using _hostB = await startHost(config, "gpu-b", server.url);
  const base = committeeFromConfig(config);
  const committees: Record<Way, CommitteeConfig> = { pipelined: base, sequential: { ...base, pipeline: false } };

  ctx.progress("pipeline: a warm-up turn (loads the model)");
  await timedTurn(coreMesh, committees.sequential, "bench-pipe-warm", "Say hello.");
  const figures: Record<Way, TurnFigures[]> = { pipelined: [], sequential: [] };
  for (let i = 0; i < n * 2; i++) {
    const way = i % 2 === 0 ? Way.Pipelined : Way.Sequential;
    const prompt = PROMPTS[Math.floor(i / 2) % PROMPTS.length]!;
    ctx.progress(`pipeline: turn ${i + 1} of ${n * 2} (${way})`);
    figures[way].push(await timedTurn(coreMesh, committees[way], `bench-pipe-${i}`, prompt));
  }
  return report(n, figures);
}

/** An agent host on a connection of its own, as each GPU machine runs one. */
async function startHost(config: MeshConfig, host: string, servers: string) {
  const mesh = await connectMesh({ servers, name: `bench-pipeline-${host}` });
  const agent = await startAgentHost({ config, host, mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  return {
    async [Symbol.asyncDispose]() {
      await agent.close();
      await mesh.close();
    },
  };
}

function report(n: number, figures: Record<Way, TurnFigures[]>): SectionResult {
  const s = {
    pipelined: { first: summarize(figures.pipelined.map((f) => f.first)), total: summarize(figures.pipelined.map((f) => f.total)) },
    sequential: { first: summarize(figures.sequential.map((f) => f.first)), total: summarize(figures.sequential.map((f) => f.total)) },
  };
  const firstRatio = s.pipelined.first.p50 / s.sequential.first.p50;
  const totalRatio = s.pipelined.total.p50 / s.sequential.total.p50;
  const pieces = summarize(figures.pipelined.map((f) => f.pieces));
  const p50 = (w: Way, f: (t: TurnFigures) => number) => summarize(figures[w].map(f)).p50;
  const voiceTokens = { sequential: p50(Way.Sequential, (t) => t.voiceTokens), pipelined: p50(Way.Pipelined, (t) => t.voiceTokens) };
  const rows = [
    [
      "way",
      "N",
      "specialist's first token p50 ms",
      "specialist done p50 ms",
      "first reply token p50 ms",
      "total p50 ms",
      "total max ms",
      "voice tokens p50",
    ],
  ];
  for (const w of [Way.Sequential, Way.Pipelined])
    rows.push([
      w,
      String(figures[w].length),
      fmt(p50(w, (t) => t.draftFirst)),
      fmt(p50(w, (t) => t.draftDone)),
      fmt(s[w].first.p50),
      fmt(s[w].total.p50),
      fmt(s[w].total.max),
      fmt(voiceTokens[w]),
    ]);
  rows.push(["pipelined ÷ sequential", "", "", "", fmt(firstRatio), fmt(totalRatio), "", ""]);
  const targets: Target[] = [
    {
      name: "Pipelined voice: time to the first reply token p50",
      goal: `≤ ${TARGET_FIRST} × sequential (${fmt(s.sequential.first.p50, "ms")})`,
      figure: `${fmt(s.pipelined.first.p50, "ms")} (${fmt(firstRatio)} ×)`,
      met: firstRatio <= TARGET_FIRST,
    },
    {
      name: "Pipelined voice: total turn time p50",
      goal: `≤ ${TARGET_TOTAL} × sequential (${fmt(s.sequential.total.p50, "ms")})`,
      figure: `${fmt(s.pipelined.total.p50, "ms")} (${fmt(totalRatio)} ×)`,
      met: totalRatio <= TARGET_TOTAL,
    },
  ];
  // The same prompt both ways (turns 2k and 2k+1): the integrator judges what pieces do to the reply.
  const examples = figures.pipelined.slice(0, 3).map((p, k) => ({
    prompt: PROMPTS[k % PROMPTS.length]!,
    pipelined: p.reply,
    sequential: figures.sequential[k]?.reply ?? "",
  }));
  const oneLine = (t: string) => JSON.stringify(t.replace(/\s+/g, " ").trim());
  return {
    name: "pipeline",
    title: `Pipelined voice: ${CHAT_MODEL} (one thread), specialist and voice on a real Ollama each, pipelined vs sequential (ms)`,
    table: rows,
    notes: [
      `${n} turns each way, interleaved, after a warm-up; prompts ask for three short paragraphs; ` +
        `max_tokens ${MAX_TOKENS} for the specialist and for each voice call; temperature 0; the router scripted (instant)`,
      `voice pieces per pipelined turn: p50 ${fmt(pieces.p50)} (min ${fmt(pieces.min)}, max ${fmt(pieces.max)}); ` +
        `segmenter defaults (2 sentences or a paragraph, 80 characters at least)`,
      "the machine may be shared: figures are noisy; the interleaving spreads the noise over both ways alike",
      ...examples.flatMap((e) => [
        `example: ${oneLine(e.prompt)}`,
        `  sequential: ${oneLine(e.sequential)}`,
        `  pipelined:  ${oneLine(e.pipelined)}`,
      ]),
    ],
    json: {
      model: CHAT_MODEL,
      turns_each_way: n,
      max_tokens: MAX_TOKENS,
      sequential: { first_token: rounded(s.sequential.first), total: rounded(s.sequential.total) },
      pipelined: { first_token: rounded(s.pipelined.first), total: rounded(s.pipelined.total) },
      ratio_pipelined_sequential: { first_token_p50: round(firstRatio), total_p50: round(totalRatio) },
      pieces: rounded(pieces),
      voice_tokens_p50: voiceTokens,
      examples,
    },
    targets,
  };
}
