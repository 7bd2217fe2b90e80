/**
 * The mesh against a real model: real Ollama (`npm run setup`'s, started on a random port by the
 * real tier's harness) with its small chat model, on a real nats-server. The same short chat two
 * ways, interleaved call by call so the machine's load hits both alike:
 *   direct — POST /api/chat (stream: true) to Ollama, NDJSON read to `done`;
 *   mesh   — a Lyra role call (client.stream) to the agent host `lyra agent` runs, in this
 *            process on its own connection, whose Ollama backend makes that same chat.
 * Time to first token (first non-empty content) and to the end; the difference is what the mesh
 * costs in front of a real model. Greedy decoding (temperature 0), so both generate the same tokens.
 * Then the model's own speed (Ollama's eval counts and durations) and one committee turn at a time
 * through the conductor (router → specialist → voice), each stage's time from the log.
 *
 * The model runs on one thread (a derived model with `num_thread 1`, made in a model store of the
 * bench's own): on a shared 2-core machine llama.cpp's two spinning threads, each descheduled in
 * turn, fell to under 1 token/s (5-7 with one). num_thread is a load option, so it has to be the
 * model's own: a request that set it would reload the runner for every request that did not.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { connectMesh } from "../../mesh/connect.ts";
import { startConductor } from "../../mesh/conductor/index.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createRoleClient } from "../../mesh/rolecall/index.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import { responseText, type RoleRequest } from "../../schemas/index.ts";
import { committeeFromConfig } from "../../agents/host/conductor-options.ts";
import { startAgentHost } from "../../agents/host/host.ts";
import { askTurn, logOf } from "../integration/conductor/helpers.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, startOllama } from "../harness/real.ts";
import type { BenchContext, SectionResult, Target } from "./report.ts";
import { fmt, round, rounded, summarize, type Summary } from "./stats.ts";

const MAX_TOKENS = 16;
/** The router's JSON choice needs more than 16 tokens to close its braces. */
const ROUTER_MAX_TOKENS = 48;
const PROMPT = "Name one colour.";
/** The mesh's cost at p50 (mesh minus direct), ms. */
const TARGET_MS = 2;

/** The derived model both ways call. */
const MODEL = "lyra-bench-chat:1t";

/** A model store of the bench's own: the default store's manifests copied, its blobs linked one by one, so /api/create writes only here. */
export function privateStore(): string {
  const src = process.env.OLLAMA_MODELS ?? join(homedir(), ".ollama", "models");
  const dir = mkdtempSync(join(tmpdir(), "lyra-bench-ollama-"));
  cpSync(join(src, "manifests"), join(dir, "manifests"), { recursive: true });
  mkdirSync(join(dir, "blobs"));
  for (const f of readdirSync(join(src, "blobs"))) symlinkSync(join(src, "blobs", f), join(dir, "blobs", f));
  return dir;
}

// first_token_timeout_ms: the router's long prompt takes ~20 s to read at ~60 tokens/s on a busy 2-core
// machine, the default first-token deadline (20 s); a cut would time the retry, not the stage.
function yaml(natsUrl: string, ollamaUrl: string): string {
  const role = (kind: string, extra = "", maxTokens = MAX_TOKENS) =>
    `{ kind: ${kind}, model: "${MODEL}", backend: ollama, ` +
    `temperature: 0, max_tokens: ${maxTokens}, keep_alive: 10m, first_token_timeout_ms: 120000, slots: 2${extra} }`;
  return `
mesh: { name: bench, owner: bench }
nats: { servers: ["${natsUrl}"] }
roles:
  router: ${role("router", "", ROUTER_MAX_TOKENS)}
  pragmatist: ${role("specialist", ", description: practical answers")}
  philosopher: ${role("specialist", ", description: why and meaning")}
  voice: ${role("voice")}
router: { default_specialist: pragmatist }
hosts:
  local: { ollama_url: "${ollamaUrl}", roles: [router, pragmatist, philosopher, voice] }
conductor: { ack_wait_ms: 30000 }
`;
}

interface Call {
  ttft: number;
  total: number;
}
interface Speed {
  tokens: number;
  evalNs: number;
  promptTokens: number;
  promptNs: number;
}

export async function realModel(ctx: BenchContext): Promise<SectionResult> {
  const n = ctx.quick ? 10 : 30;
  // One turn: on a shared 2-core machine it takes ~40 s (the router's and voice's long prompts).
  const turns = 1;
  ctx.progress(`real-model: starting ollama serve (${CHAT_MODEL}) and nats-server`);
  const store = privateStore();
  await using _store = { [Symbol.asyncDispose]: async () => rmSync(store, { recursive: true, force: true }) };
  await using ollama = await startOllama({ parallel: 1, env: { OLLAMA_MODELS: store } });
  const created = await fetch(`${ollama.url}/api/create`, {
    method: "POST",
    body: JSON.stringify({ model: MODEL, from: CHAT_MODEL, parameters: { num_thread: 1 }, stream: false }),
  });
  if (!created.ok) throw new Error(`Ollama could not derive ${MODEL} from ${CHAT_MODEL}: ${created.status} ${await created.text()}`);
  await using server = await startNatsServer();
  await using agentMesh = await connectMesh({ servers: server.url, name: "bench-real-agent" });
  await using coreMesh = await connectMesh({ servers: server.url, name: "bench-real-core" });
  await using caller = await connectMesh({ servers: server.url, name: "bench-real-caller" });
  const config = parseMeshConfig(yaml(server.url, ollama.url), { source: "real-model bench", env: {} });
  await using _host = await startAgentHost({
    config,
    host: "local",
    mesh: agentMesh,
    log: silentLogger,
    metricsPort: null,
    heartbeatIntervalS: 0,
  });
  await using client = createRoleClient(caller);

  const messages = [{ role: "user" as const, content: PROMPT }];
  const body = JSON.stringify({
    model: MODEL,
    messages,
    stream: true,
    keep_alive: "10m",
    options: { temperature: 0, num_predict: MAX_TOKENS },
  });
  const speeds: Speed[] = [];
  const direct = async (): Promise<Call> => {
    const t0 = performance.now();
    const res = await fetch(`${ollama.url}/api/chat`, { method: "POST", body, headers: { "content-type": "application/json" } });
    if (!res.ok || !res.body) throw new Error(`Ollama answered ${res.status}: ${await res.text()}`);
    let ttft: number | undefined;
    let rest = "";
    const decoder = new TextDecoder();
    for await (const bytes of res.body) {
      rest += decoder.decode(bytes as Uint8Array, { stream: true });
      for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
        const line = JSON.parse(rest.slice(0, nl)) as {
          message?: { content?: string };
          done?: boolean;
          eval_count?: number;
          eval_duration?: number;
          prompt_eval_count?: number;
          prompt_eval_duration?: number;
        };
        rest = rest.slice(nl + 1);
        if (ttft === undefined && line.message?.content) ttft = performance.now() - t0;
        if (line.done)
          speeds.push({
            tokens: line.eval_count ?? 0,
            evalNs: line.eval_duration ?? 0,
            promptTokens: line.prompt_eval_count ?? 0,
            promptNs: line.prompt_eval_duration ?? 0,
          });
      }
    }
    const total = performance.now() - t0;
    return { ttft: ttft ?? total, total };
  };
  const request: RoleRequest = { messages };
  const mesh = async (): Promise<Call> => {
    const t0 = performance.now();
    let ttft: number | undefined;
    for await (const c of client.stream("pragmatist", request, { timeoutMs: 60_000 })) {
      if (ttft === undefined && c.type === "response" && responseText(c)) ttft = performance.now() - t0;
    }
    const total = performance.now() - t0;
    return { ttft: ttft ?? total, total };
  };

  ctx.progress(`real-model: warm-up, then ${n} chats each way, interleaved`);
  for (let i = 0; i < 3; i++) await mesh().then(direct);
  speeds.length = 0;
  const calls = { direct: [] as Call[], mesh: [] as Call[] };
  await ctx.measure("real-model-chat", async () => {
    for (let i = 0; i < n; i++) {
      if (i && i % 10 === 0) ctx.progress(`real-model: ${i} of ${n} pairs`);
      // Alternate which goes first, so neither always follows the other's KV-cache state.
      if (i % 2) {
        calls.direct.push(await direct());
        calls.mesh.push(await mesh());
      } else {
        calls.mesh.push(await mesh());
        calls.direct.push(await direct());
      }
    }
  });
  const stat = (w: "direct" | "mesh", k: keyof Call) => summarize(calls[w].map((c) => c[k]));
  const s = {
    direct: { ttft: stat("direct", "ttft"), total: stat("direct", "total") },
    mesh: { ttft: stat("mesh", "ttft"), total: stat("mesh", "total") },
  };
  const cost = (k: keyof Call, q: "p50" | "p95") => s.mesh[k][q] - s.direct[k][q];
  const sum = (f: (x: Speed) => number) => speeds.reduce((a, x) => a + f(x), 0);
  const tokensPerS = sum((x) => x.tokens) / (sum((x) => x.evalNs) / 1e9);
  const promptPerS = sum((x) => x.promptTokens) / (sum((x) => x.promptNs) / 1e9);
  const meanTokens = sum((x) => x.tokens) / Math.max(1, speeds.length);

  ctx.progress(`real-model: ${turns} committee turns through the conductor`);
  await using _core = await startConductor(coreMesh, { roles: createRoleClient(coreMesh), committee: committeeFromConfig(config) });
  const stages = { router: [] as number[], specialist: [] as number[], voice: [] as number[], turn: [] as number[] };
  const models = { router: [] as number[], specialist: [] as number[], voice: [] as number[] };
  // The model is loaded and warm from the chats above: no warm-up turn.
  for (let i = 0; i < turns; i++) {
    const conversation = `bench-real-${i}`;
    const t0 = Date.now();
    await askTurn(coreMesh, conversation, i % 2 ? "Why do we dream?" : "How do I boil an egg?");
    const turn = Date.now() - t0;
    const log = await logOf(coreMesh, conversation);
    const at = (type: string) => log.find((e) => e.type === type);
    const [user, routed, done, voice] = [at("user_message"), at("routed"), at("specialist_finished"), at("voice_reply")];
    if (!user || !routed || !done || !voice)
      throw new Error(`committee turn ${conversation} logged ${log.map((e) => e.type).join(", ")}: a step is missing`);
    stages.router.push(routed.ts - user.ts);
    stages.specialist.push(done.ts - routed.ts);
    stages.voice.push(voice.ts - done.ts);
    stages.turn.push(turn);
    const model = (e: typeof routed) => ("latency_ms" in e && typeof e.latency_ms === "number" ? e.latency_ms : Number.NaN);
    models.router.push(model(routed));
    models.specialist.push(model(done));
    models.voice.push(model(voice));
  }

  const rows = [["way", "N", "first token p50 ms", "first token p95 ms", "total p50 ms", "total p95 ms"]];
  for (const w of ["direct", "mesh"] as const)
    rows.push([
      w === "direct" ? "direct HTTP /api/chat" : "Lyra role call",
      String(n),
      fmt(s[w].ttft.p50),
      fmt(s[w].ttft.p95),
      fmt(s[w].total.p50),
      fmt(s[w].total.p95),
    ]);
  rows.push([
    "mesh − direct",
    "",
    fmt(cost("ttft", "p50")),
    fmt(cost("ttft", "p95")),
    fmt(cost("total", "p50")),
    fmt(cost("total", "p95")),
  ]);
  rows.push([
    "mesh ÷ direct",
    "",
    fmt(s.mesh.ttft.p50 / s.direct.ttft.p50),
    fmt(s.mesh.ttft.p95 / s.direct.ttft.p95),
    fmt(s.mesh.total.p50 / s.direct.total.p50),
    fmt(s.mesh.total.p95 / s.direct.total.p95),
  ]);
  const stageRows = (["router", "specialist", "voice"] as const).map((k) => [
    `committee: ${k}`,
    String(stages[k].length),
    "",
    "",
    fmt(summarize(stages[k]).p50),
    fmt(summarize(stages[k]).p95),
  ]);
  rows.push(...stageRows, [
    "committee: whole turn (inbox → stored reply)",
    String(stages.turn.length),
    "",
    "",
    fmt(summarize(stages.turn).p50),
    fmt(summarize(stages.turn).p95),
  ]);

  const ttftCost = cost("ttft", "p50");
  const totalCost = cost("total", "p50");
  const targets: Target[] = [
    {
      name: "Mesh cost against a real model, first token p50",
      goal: `≤ ${TARGET_MS} ms over direct`,
      figure: `${fmt(ttftCost, "ms")} (${fmt(s.mesh.ttft.p50 / s.direct.ttft.p50)} × direct)`,
      met: ttftCost <= TARGET_MS,
    },
    {
      name: "Mesh cost against a real model, total p50",
      goal: `≤ ${TARGET_MS} ms over direct`,
      figure: `${fmt(totalCost, "ms")} (${fmt(s.mesh.total.p50 / s.direct.total.p50)} × direct)`,
      met: totalCost <= TARGET_MS,
    },
  ];
  const json = (x: Summary) => rounded(x);
  return {
    name: "real-model",
    title: `Real model: ${CHAT_MODEL} (one thread) in real Ollama, direct vs through the mesh (ms)`,
    table: rows,
    notes: [
      `prompt '${PROMPT}', max_tokens ${MAX_TOKENS} (the router ${ROUTER_MAX_TOKENS}), ` +
        `temperature 0 (both ways generate the same ${fmt(meanTokens)} tokens on average); ` +
        `${n} calls each way, interleaved, after 3 warm-ups; Ollama OLLAMA_NUM_PARALLEL=1`,
      `the model on this machine: ${fmt(tokensPerS)} tokens/s generated, ` +
        `${fmt(promptPerS)} tokens/s prompt (Ollama's eval counts and durations over the direct calls)`,
      `committee: ${turns} turn, each stage's wall time from the log's timestamps (ms resolution); ` +
        `model time per stage p50 (the agent's total_ms): router ${fmt(summarize(models.router).p50)}, ` +
        `specialist ${fmt(summarize(models.specialist).p50)}, voice ${fmt(summarize(models.voice).p50)}`,
      "the machine may be shared: figures are noisy; the interleaving spreads the noise over both ways alike",
    ],
    json: {
      model: CHAT_MODEL,
      num_thread: 1,
      max_tokens: MAX_TOKENS,
      calls_each_way: n,
      direct: { first_token: json(s.direct.ttft), total: json(s.direct.total) },
      mesh: { first_token: json(s.mesh.ttft), total: json(s.mesh.total) },
      mesh_cost_ms: {
        first_token_p50: round(ttftCost),
        first_token_p95: round(cost("ttft", "p95")),
        total_p50: round(totalCost),
        total_p95: round(cost("total", "p95")),
      },
      ratio_mesh_direct: {
        first_token_p50: round(s.mesh.ttft.p50 / s.direct.ttft.p50),
        total_p50: round(s.mesh.total.p50 / s.direct.total.p50),
      },
      model_tokens_per_s: round(tokensPerS),
      model_prompt_tokens_per_s: round(promptPerS),
      committee: {
        turns,
        stage_ms: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, json(summarize(v))])),
        model_ms_p50: Object.fromEntries(Object.entries(models).map(([k, v]) => [k, round(summarize(v).p50)])),
      },
    },
    targets,
  };
}
