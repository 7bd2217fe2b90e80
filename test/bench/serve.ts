/**
 * `lyra serve` overhead: one committee turn through the OpenAI-compatible endpoint against the same
 * turn through `lyra ask`'s path (watchReplies, publishInbox, read to the final reply), in one run,
 * one turn at a time, the ways interleaved. As deployed, the mesh (`lyra up --scripted`: agent
 * host with instant scripted models, conductor) and `lyra serve` are processes of their own; this
 * process holds `lyra ask`'s front door and the HTTP clients. Every turn is a new conversation, as
 * `lyra ask` without -c is.
 */
import { appendFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import OpenAI from "openai";
import { connectMesh } from "../../mesh/connect.ts";
import { publishInbox, watchReplies } from "../../mesh/frontdoor.ts";
import { runLyra, writeCommitteeConfig, type CliProcess } from "../harness/committee-fixture.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import type { BenchContext, SectionResult } from "./report.ts";
import { fmt, rounded, summarize, type Summary } from "./stats.ts";

const TARGET_ADDED_MS = 2;
const KEY = "bench-key";
const TEXT = "How do I keep basil alive?";
const BODY = JSON.stringify({ model: "lyra", messages: [{ role: "user", content: TEXT }] });
const STREAM_BODY = JSON.stringify({ model: "lyra", stream: true, messages: [{ role: "user", content: TEXT }] });

type Way = "ask" | "node" | "nodeStream" | "fetch" | "sdkStream";
const WAYS: Way[] = ["ask", "node", "nodeStream", "fetch", "sdkStream"];
const LABEL: Record<Way, string> = {
  ask: "lyra ask's path (publishInbox → outbox)",
  node: "lyra serve, node:http client, not streamed",
  nodeStream: "lyra serve, node:http client, streamed (SSE)",
  fetch: "lyra serve, fetch, not streamed",
  sdkStream: "lyra serve, openai client, streamed",
};

type Reply = { choices: { message: { content: string } }[] };

export async function serve(ctx: BenchContext): Promise<SectionResult> {
  const n = ctx.quick ? 100 : 400;
  const warmup = ctx.quick ? 20 : 50;
  await using server = await startNatsServer();
  const env = { NATS_URL: server.url, LYRA_SERVE_KEYS: KEY, LYRA_LOG_LEVEL: "warn" };
  const config = writeCommitteeConfig({ natsUrl: server.url });
  // lyra serve's own copy, without a rate limit (lyra up would start an endpoint of its own).
  const serveConfig = writeCommitteeConfig({ natsUrl: server.url });
  appendFileSync(serveConfig, "serve: { rate_limit: { rpm: 0 } }\n");
  const children: CliProcess[] = [];
  const front = await connectMesh({ servers: server.url, name: "bench-ask" });
  try {
    ctx.progress("serve: starting lyra up --scripted and lyra serve");
    const up = runLyra(["up", "--config", config, "--scripted"], env);
    children.push(up);
    await up.waitFor(/mesh up on/, 60_000);
    const api = runLyra(["serve", "--config", serveConfig, "--port", "0"], env);
    children.push(api);
    await api.waitFor(/OpenAI-compatible API on (http\S+)/, 60_000);
    const url = /OpenAI-compatible API on (http\S+)/.exec(api.output())![1]!;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const client = new OpenAI({ apiKey: KEY, baseURL: url, maxRetries: 0 });
    const headers = (conv: string) => ({ Authorization: `Bearer ${KEY}`, "Content-Type": "application/json", "X-Lyra-Conversation": conv });

    const post = (conversation: string, body: string) =>
      new Promise<string>((resolve, reject) => {
        const req = httpRequest(
          `${url}/chat/completions`,
          { method: "POST", agent, headers: { ...headers(conversation), "Content-Length": Buffer.byteLength(body) } },
          (res) => {
            let b = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => (b += d));
            res.on("end", () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`lyra serve answered ${res.statusCode}: ${b}`))));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    let seq = 0;
    const turn: Record<Way, () => Promise<string>> = {
      async ask() {
        const conversation = `bench-ask-${++seq}`;
        const id = `m${seq}`;
        const watch = watchReplies(front, "cli", conversation, id);
        await front.nc.flush();
        await publishInbox(front, { id, channel: "cli", conversation, user: { id: "bench" }, text: TEXT, ts: Date.now() });
        for await (const o of watch) if (o.final) return o.text;
        throw new Error("no reply");
      },
      node: () => post(`bench-node-${++seq}`, BODY).then((b) => (JSON.parse(b) as Reply).choices[0]!.message.content),
      // The SSE body, read to its end, its deltas joined.
      nodeStream: () =>
        post(`bench-nodes-${++seq}`, STREAM_BODY).then((b) =>
          b
            .split("\n\n")
            .filter((e) => e.startsWith("data: {"))
            .map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "")
            .join(""),
        ),
      async fetch() {
        const res = await fetch(`${url}/chat/completions`, { method: "POST", headers: headers(`bench-fetch-${++seq}`), body: BODY });
        if (res.status !== 200) throw new Error(`lyra serve answered ${res.status}: ${await res.text()}`);
        return ((await res.json()) as Reply).choices[0]!.message.content;
      },
      async sdkStream() {
        const stream = await client.chat.completions.create(
          { model: "lyra", messages: [{ role: "user", content: TEXT }], stream: true },
          { headers: { "X-Lyra-Conversation": `bench-sdk-${++seq}` } },
        );
        let text = "";
        for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
        return text;
      },
    };
    const expected = await turn.ask();
    for (const w of WAYS) {
      const got = await turn[w]();
      if (got !== expected) throw new Error(`${w} answered '${got}', not '${expected}'`);
    }
    ctx.progress(`serve: warm-up (${warmup} turns each way)`);
    for (let i = 0; i < warmup; i++) for (const w of WAYS) await turn[w]();
    ctx.progress(`serve: ${n} turns each way, interleaved`);
    const samples = Object.fromEntries(WAYS.map((w) => [w, [] as number[]])) as Record<Way, number[]>;
    await ctx.measure("serve", async () => {
      for (let i = 0; i < n; i++) {
        for (const w of WAYS) {
          const t0 = performance.now();
          await turn[w]();
          samples[w].push(performance.now() - t0);
        }
      }
    });
    agent.destroy();
    const s = Object.fromEntries(WAYS.map((w) => [w, summarize(samples[w])])) as Record<Way, Summary>;
    const added = (w: Way) => s[w].p50 - s.ask.p50;
    const rows = [["way", "turns", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms"]];
    for (const w of WAYS)
      rows.push([
        LABEL[w],
        String(s[w].n),
        fmt(s[w].p50),
        fmt(s[w].p99),
        w === "ask" ? "—" : fmt(added(w)),
        w === "ask" ? "—" : fmt(s[w].p99 - s.ask.p99),
      ]);
    const round3 = (v: number) => Math.round(v * 1000) / 1000;
    return {
      name: "serve",
      title: "8. lyra serve overhead (one committee turn: HTTP vs lyra ask's path)",
      table: rows,
      notes: [
        `${n} turns each way, one at a time, interleaved; each turn a new conversation; ` +
          `the mesh (lyra up --scripted, no delay) and lyra serve run as their own processes; file-backed streams`,
        "added = this way's figure minus lyra ask's path in the same run: the HTTP round trip, parsing, validation, " +
          "the key check, the conductor check (one consumer info a second), the JSON or SSE reply, and the client's own cost",
        "the target is judged on the node:http client (the server's overhead); " +
          "fetch (undici) and the openai client add their own per-request cost",
      ],
      json: {
        turns: n,
        latency_ms: Object.fromEntries(WAYS.map((w) => [w, rounded(s[w])])),
        added_p50_ms: Object.fromEntries(WAYS.filter((w) => w !== "ask").map((w) => [w, round3(added(w))])),
      },
      targets: [
        {
          name: "lyra serve added latency p50 (node:http client, not streamed)",
          goal: `≤ ${TARGET_ADDED_MS} ms over lyra ask's path (${fmt(s.ask.p50)} ms)`,
          figure: `${fmt(added("node"))} ms`,
          met: added("node") <= TARGET_ADDED_MS,
        },
      ],
    };
  } finally {
    for (const c of children) c.proc.kill("SIGTERM");
    await Promise.all(children.map((c) => c.exited));
    await front.close();
  }
}
