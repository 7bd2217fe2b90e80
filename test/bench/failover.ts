/**
 * Failover, two ways:
 * (a) replica death: two responder processes (test/fixtures/responder.ts) serve a role; a
 *     streaming call goes to one of them (its ack's Lyra-Host, read from a tap on the caller's
 *     inbox prefix, says which); that one is SIGKILLed mid-stream; the figure is kill → the first
 *     chunk the caller gets from the other replica (its ack), and kill → the first new text.
 *     The caller notices through the keep-alive gap, so this is measured with the client's
 *     defaults and with shorter settings.
 * (b) no agent serves the role: a role call meets NATS no-responders (UnavailableError) and the
 *     conductor's fallback (agents/host/conductor-options.ts fallbackCaller: the role's handler over the
 *     OpenAI-compatible backend, here the OpenAI double standing in for LiteLLM) answers; the
 *     figure is the no-responders answer → the first chunk of the fallback stream.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { UnavailableError } from "../../mesh/errors.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createRoleClient, type CallOptions } from "../../mesh/rolecall/index.ts";
import { Header, type RoleRequest } from "../../schemas/index.ts";
import { fallbackCaller } from "../../agents/host/conductor-options.ts";
import { startOpenAIDouble } from "../doubles/openai.ts";
import { ANSWER } from "../fixtures/scripted.ts";
import { committeeConfig } from "../harness/committee-fixture.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import type { BenchContext, SectionResult, Target } from "./report.ts";
import { fmt, rounded, summarize, type Summary } from "./stats.ts";

const RESPONDER = fileURLToPath(new URL("../fixtures/responder.ts", import.meta.url));
const ROLE = "failover";
const WORD_DELAY_MS = 50;
const INBOX_PREFIX = "_INBOX_bench";
const FAILOVER_TARGET_MS = 1500;
const FALLBACK_TARGET_MS = 50;

interface Scenario {
  label: string;
  client: Pick<CallOptions, "keepAliveGapMs" | "ackWindowMs">;
  /** The responders' keep-alive period, ms; undefined = serveRole's default. */
  responderKeepAliveMs: number | undefined;
  /** Whether the failover target applies (the defaults) or it is shown for comparison. */
  target: boolean;
}

interface Replica {
  host: string;
  proc: ChildProcess;
}

async function spawnReplica(url: string, host: string, keepAliveMs: number | undefined): Promise<Replica> {
  const proc = spawn(
    process.execPath,
    [RESPONDER, url, host, ROLE, String(WORD_DELAY_MS), keepAliveMs === undefined ? "default" : String(keepAliveMs)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`responder ${host} not ready within 20 s`)), 20_000);
    proc.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once("exit", (code) => reject(new Error(`responder ${host} exited (${code}) before it was ready`)));
  });
  return { host, proc };
}

async function kill(r: Replica): Promise<void> {
  if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  const exited = once(r.proc, "exit");
  r.proc.kill("SIGKILL");
  await exited;
}

interface FailoverFigures {
  /** kill → first chunk from the other replica (its ack). */
  firstChunk: Summary;
  /** kill → first response text the caller had not seen. */
  firstNewText: Summary;
}

async function replicaDeath(ctx: BenchContext, url: string, s: Scenario, reps: number): Promise<FailoverFigures> {
  await using caller = await connectMesh({ servers: url, name: "bench-failover-caller", inboxPrefix: INBOX_PREFIX });
  await using tap = await connectMesh({ servers: url, name: "bench-failover-tap" });
  // The caller's reply inboxes are under its prefix: the tap sees each ack and its Lyra-Host.
  const ackHosts: string[] = [];
  tap.nc.subscribe(`${INBOX_PREFIX}.>`, {
    callback: (err, m) => {
      const host = m?.headers?.get(Header.Host);
      if (!err && host) ackHosts.push(host);
    },
  });
  await tap.nc.flush();
  const client = createRoleClient(caller);
  const replicas = new Map<string, Replica>();
  for (const host of ["replica-a", "replica-b"]) replicas.set(host, await spawnReplica(url, host, s.responderKeepAliveMs));
  const firstChunk: number[] = [];
  const firstNewText: number[] = [];
  try {
    // A few calls first: JIT and connection warm-up on both sides.
    for (let i = 0; i < 2; i++) await client.call(ROLE, `warm ${i}`, s.client);
    for (let rep = 0; rep < reps; rep++) {
      ackHosts.length = 0;
      const stream = client.stream(ROLE, `count ${rep}`, s.client);
      let words = 0;
      let killedAt: number | undefined;
      let chunkAt: number | undefined;
      let textAt: number | undefined;
      let victim: Replica | undefined;
      for await (const c of stream) {
        const now = performance.now();
        if (killedAt !== undefined) {
          chunkAt ??= now;
          if (c.type === "response") textAt ??= now;
          continue;
        }
        if (c.type === "response" && ++words === 2) {
          victim = replicas.get(ackHosts[0] ?? "");
          if (!victim) throw new Error(`no ack host seen for the call (tap saw ${JSON.stringify(ackHosts)})`);
          // Somewhere between two words, as a crash would be.
          await new Promise((r) => setTimeout(r, Math.random() * WORD_DELAY_MS));
          killedAt = performance.now();
          victim.proc.kill("SIGKILL");
        }
      }
      const result = await stream.result;
      if (!victim || killedAt === undefined || chunkAt === undefined || textAt === undefined)
        throw new Error("the stream ended before the failover was seen");
      if (result.text !== ANSWER || result.host === victim.host)
        throw new Error(`unexpected failover result: host ${result.host}, text ${JSON.stringify(result.text)}`);
      firstChunk.push(chunkAt - killedAt);
      firstNewText.push(textAt - killedAt);
      ctx.progress(`failover (${s.label}) ${rep + 1}/${reps}: kill → first chunk ${fmt(chunkAt - killedAt)} ms`);
      await kill(victim);
      replicas.set(victim.host, await spawnReplica(url, victim.host, s.responderKeepAliveMs));
    }
  } finally {
    await Promise.all([...replicas.values()].map(kill));
    await client.close();
  }
  return { firstChunk: summarize(firstChunk), firstNewText: summarize(firstNewText) };
}

interface FallbackFigures {
  /** The no-responders answer → the fallback's first chunk. */
  afterNoResponders: Summary;
  /** The role call's start → the fallback's first chunk (no-responders detection included). */
  total: Summary;
}

async function noResponders(ctx: BenchContext, mesh: Mesh, reps: number): Promise<FallbackFigures> {
  await using litellm = await startOpenAIDouble();
  const keyEnv = "LYRA_BENCH_LITELLM_KEY";
  process.env[keyEnv] = litellm.apiKey;
  const cfg = committeeConfig({ natsUrl: "nats://127.0.0.1:4222" });
  cfg.litellm = { base_url: litellm.baseURL, api_key_env: keyEnv };
  cfg.roles.voice!.fallback = "lyra-fallback";
  const fallback = fallbackCaller(cfg, silentLogger);
  if (!fallback) throw new Error("no fallback caller built");
  const client = createRoleClient(mesh);
  const req: RoleRequest = { messages: [{ role: "user", content: "Rewrite this in Lyra's voice: water basil when the soil is dry." }] };
  const after: number[] = [];
  const total: number[] = [];
  const warmup = 5;
  ctx.progress(`fallback: ${reps} calls to a role nobody serves`);
  for (let i = 0; i < warmup + reps; i++) {
    const t0 = performance.now();
    try {
      for await (const _ of client.stream("voice", req))
        throw new Error("a responder answered: the fallback bench needs a role nobody serves");
    } catch (err) {
      if (!(err instanceof UnavailableError)) throw err;
    }
    const t1 = performance.now();
    let t2: number | undefined;
    for await (const _ of fallback.stream("voice", req, { requestId: `fb${i}` })) t2 ??= performance.now();
    if (t2 === undefined) throw new Error("the fallback sent no chunk");
    if (i < warmup) continue;
    after.push(t2 - t1);
    total.push(t2 - t0);
  }
  await client.close();
  return { afterNoResponders: summarize(after), total: summarize(total) };
}

export async function failover(ctx: BenchContext): Promise<SectionResult> {
  const reps = ctx.quick ? 3 : 10;
  const scenarios: Scenario[] = [
    // The responder advertises its keep-alive (250 ms) on the ack; the client's gap is 4 of them.
    { label: "defaults (keep-alive 250 ms, gap 1000 ms)", client: {}, responderKeepAliveMs: undefined, target: true },
    {
      label: "previous defaults (keep-alive 1000 ms, gap 5000 ms)",
      client: { keepAliveGapMs: 5000 },
      responderKeepAliveMs: 1000,
      target: false,
    },
  ];
  await using server = await startNatsServer({ jetstream: false });
  const death: { scenario: Scenario; figures: FailoverFigures }[] = [];
  for (const scenario of scenarios) death.push({ scenario, figures: await replicaDeath(ctx, server.url, scenario, reps) });
  await using mesh = await connectMesh({ servers: server.url, name: "bench-fallback" });
  const fb = await noResponders(ctx, mesh, ctx.quick ? 15 : 50);

  const rows = [["what", "setting", "N", "p50 ms", "p95 ms", "max ms"]];
  for (const d of death) {
    rows.push([
      "SIGKILL → first chunk, other replica",
      d.scenario.label,
      String(d.figures.firstChunk.n),
      fmt(d.figures.firstChunk.p50),
      fmt(d.figures.firstChunk.p95),
      fmt(d.figures.firstChunk.max),
    ]);
    rows.push([
      "SIGKILL → first new text",
      d.scenario.label,
      String(d.figures.firstNewText.n),
      fmt(d.figures.firstNewText.p50),
      fmt(d.figures.firstNewText.p95),
      fmt(d.figures.firstNewText.max),
    ]);
  }
  rows.push([
    "no-responders → first fallback chunk",
    "OpenAI double as LiteLLM",
    String(fb.afterNoResponders.n),
    fmt(fb.afterNoResponders.p50),
    fmt(fb.afterNoResponders.p95),
    fmt(fb.afterNoResponders.max),
  ]);
  rows.push([
    "call start → first fallback chunk",
    "OpenAI double as LiteLLM",
    String(fb.total.n),
    fmt(fb.total.p50),
    fmt(fb.total.p95),
    fmt(fb.total.max),
  ]);

  const targets: Target[] = death
    .filter((d) => d.scenario.target)
    .map((d) => ({
      name: `Failover p50 (${d.scenario.label})`,
      goal: `≤ ${fmt(FAILOVER_TARGET_MS, "ms")} kill → first chunk`,
      figure: fmt(d.figures.firstChunk.p50, "ms"),
      met: d.figures.firstChunk.p50 <= FAILOVER_TARGET_MS,
    }));
  targets.push({
    name: "Fallback p50",
    goal: `≤ ${fmt(FALLBACK_TARGET_MS, "ms")} no-responders → first chunk`,
    figure: fmt(fb.afterNoResponders.p50, "ms"),
    met: fb.afterNoResponders.p50 <= FALLBACK_TARGET_MS,
  });
  return {
    name: "failover",
    title: "4. Failover",
    table: rows,
    notes: [
      `replicas: child processes (test/fixtures/responder.ts), ${WORD_DELAY_MS} ms per word; ` +
        `killed at a random point after the 2nd word; the killed one is restarted between repetitions`,
      "first chunk = the other replica's ack; " +
        "first new text = the first word the caller had not yet seen (the new replica re-runs from the start)",
    ],
    json: {
      word_delay_ms: WORD_DELAY_MS,
      replica_death: death.map((d) => ({
        setting: d.scenario.label,
        client: d.scenario.client,
        responder_keep_alive_ms: d.scenario.responderKeepAliveMs ?? "default",
        kill_to_first_chunk_ms: rounded(d.figures.firstChunk),
        kill_to_first_new_text_ms: rounded(d.figures.firstNewText),
      })),
      fallback: { no_responders_to_first_chunk_ms: rounded(fb.afterNoResponders), call_start_to_first_chunk_ms: rounded(fb.total) },
    },
    targets,
  };
}
