/**
 * The committee benchmark's front door, as its own process: closed-loop conversations that
 * publish user messages to the inbox (publishInbox) and wait for each final reply on the outbox.
 * Prints JSON lines on stdout: {"turns": n, "rss_mb": its own RSS} every `every` replies, then {"done": {...}} with the
 * latencies (ms), lost replies (none within LOST_MS) and duplicated ones (a second final reply).
 * Usage: node test/bench/frontdoor-proc.ts <nats-url> <tag> <conversations> <turns> [every]
 */
import { connectMesh } from "../../mesh/connect.ts";
import { publishInbox } from "../../mesh/frontdoor.ts";
import { decodeBody } from "../../mesh/body.ts";
import { OutboxMessage } from "../../schemas/index.ts";
import { statusMB } from "./procfs.ts";

const LOST_MS = 30_000;
const [url, tag, convArg, turnsArg, everyArg] = process.argv.slice(2);
const conversations = Number(convArg);
const turns = Number(turnsArg);
const every = Number(everyArg ?? 0);
const CHANNEL = "bench";

const mesh = await connectMesh({ servers: url!, name: `bench-front-${tag}` });
const waiting = new Map<string, () => void>();
// Ids answered: two generations, so a long soak does not grow this process (a duplicate comes soon after).
let answered = new Set<string>();
let answeredBefore = new Set<string>();
let duplicated = 0;
let lost = 0;
let replies = 0;
mesh.nc.subscribe(`lyra.outbox.${CHANNEL}.*`, {
  callback: (err, m) => {
    if (err) return;
    const o = decodeBody(OutboxMessage, m, "outbox message");
    if (!o.final) return;
    if (answered.has(o.in_reply_to) || answeredBefore.has(o.in_reply_to)) {
      duplicated++;
      return;
    }
    const w = waiting.get(o.in_reply_to);
    if (!w) return; // another run's, or one given up on
    answered.add(o.in_reply_to);
    if (answered.size >= 20_000) {
      answeredBefore = answered;
      answered = new Set();
    }
    w();
  },
});
await mesh.nc.flush();

// Latencies: all of them for a run, a bounded reservoir for a soak.
const latencies: number[] = [];
const MAX_SAMPLES = 50_000;
let seen = 0;
const record = (ms: number) => {
  seen++;
  if (latencies.length < MAX_SAMPLES) latencies.push(ms);
  else {
    const i = Math.floor(Math.random() * seen);
    if (i < MAX_SAMPLES) latencies[i] = ms;
  }
};
const conversation = async (c: number) => {
  for (let t = 0; t < turns; t++) {
    const id = `${tag}-${c}-${t}`;
    const text = t % 2 === 0 ? `How do I keep basil alive, step ${t}?` : `Why does basil need so much sun, step ${t}?`;
    let timer: NodeJS.Timeout | undefined;
    const replied = new Promise<boolean>((resolve) => {
      waiting.set(id, () => resolve(true));
      timer = setTimeout(() => resolve(false), LOST_MS);
    });
    const t0 = performance.now();
    await publishInbox(mesh, { id, channel: CHANNEL, conversation: `${tag}c${c}`, user: { id: "bench" }, text });
    const ok = await replied;
    clearTimeout(timer);
    waiting.delete(id);
    if (!ok) {
      lost++;
      continue;
    }
    record(performance.now() - t0);
    if (every && ++replies % every === 0)
      process.stdout.write(`${JSON.stringify({ turns: replies, rss_mb: statusMB(process.pid, "VmRSS") })}\n`);
  }
};
const t0 = performance.now();
await Promise.all(Array.from({ length: conversations }, (_, c) => conversation(c)));
const seconds = (performance.now() - t0) / 1000;
// Late duplicates of the last replies still count.
await new Promise((r) => setTimeout(r, 500));
const stats = mesh.nc.stats();
const done = {
  seconds,
  replies: seen,
  latencies,
  lost,
  duplicated,
  nats_msgs: stats.inMsgs + stats.outMsgs,
  rss_mb: statusMB(process.pid, "VmRSS"),
};
process.stdout.write(`${JSON.stringify({ done })}\n`);
await mesh.close();
