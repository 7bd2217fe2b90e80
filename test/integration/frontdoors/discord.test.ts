/**
 * `lyra discord` end to end: the real discord.js client against the Discord API double, a real
 * nats-server with JetStream, and the scripted committee (agent host + conductor).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { Say, type DiscordAdapter } from "../../../agents/frontdoors/discord/index.ts";
import { DISCORD_TOKEN, type DiscordDouble } from "../../doubles/discord.ts";
import { discordFixture, type DiscordFixture } from "./fixture.ts";
import { eventually } from "../../harness/eventually.ts";
import { readStream } from "../conductor/helpers.ts";
import { InboxMessage, OutboxMessage } from "../../../schemas/index.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";

let f: DiscordFixture;
let discord: DiscordDouble;
let adapter: DiscordAdapter | undefined;
const start = (cfg: Record<string, unknown> = {}) => f.start(cfg);
const pragmatist = (reply: (input: string) => string, delayMs = 10) => f.pragmatist(reply, delayMs);
const repliesTo = (id: unknown) => f.repliesTo(id);

/** A pragmatist that answers `text` only once `release()` is called: a reply still coming. */
async function gatedPragmatist(text: string) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const role = await serveRole(f.mesh, {
    role: "pragmatist",
    host: "gate",
    heartbeatIntervalS: 0,
    async *handler() {
      await gate;
      yield { type: "response", data: text };
      yield {
        type: "final",
        data: { model: "m", backend: "test", host: "gate", usage: { prompt_tokens: 0, completion_tokens: 1 }, timings: { total_ms: 1 } },
      };
    },
  });
  return { release, [Symbol.asyncDispose]: () => role[Symbol.asyncDispose]() };
}

beforeAll(async () => {
  f = await discordFixture();
  discord = f.discord;
  adapter = await start();
}, 60_000);

afterEach(() => {
  // No send may ever have been able to ping, and the client used only documented routes.
  expect(discord.violations.splice(0)).toEqual([]);
});

afterAll(async () => {
  await f?.close();
});

describe("lyra discord through the Discord double", () => {
  it("logs in over the gateway (HELLO, IDENTIFY, heartbeats) and registers its slash commands", async () => {
    expect(adapter!.botId).toBe(discord.botId);
    const identify = discord.ops.find((o) => o.op === 2)!.d as { token: string; intents: number };
    expect(identify.token).toBe(DISCORD_TOKEN);
    // GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT | DIRECT_MESSAGES | GUILD_VOICE_STATES
    expect(identify.intents & (1 | 512 | 32768 | 4096 | 128)).toBe(1 | 512 | 32768 | 4096 | 128);
    await eventually("a heartbeat", () => (discord.ops.some((o) => o.op === 1) ? true : undefined), { timeoutMs: 10_000 });
    await eventually("command registration", () => (discord.commands.length ? true : undefined), { timeoutMs: 10_000 });
    expect((discord.commands as { name: string }[]).map((c) => c.name).sort()).toEqual(["ask", "forget", "join", "leave", "status"]);
  });

  it("a mention: typing, the reply streamed by editing one message, then the final text from the outbox", async () => {
    await using _p = await pragmatist(
      (q) => `Water the basil when the top of the soil is dry, about every ${"two or three ".repeat(8)}days. (${q})`,
      60,
    );
    const msg = discord.userMessage({ content: "How do I keep basil alive?" });
    const [reply] = await eventually(
      "the final reply",
      () => {
        const r = repliesTo(msg.id);
        return r.length && r[0]!.content.startsWith("Lyra says:") && r[0]!.content.endsWith("(How do I keep basil alive?)") ? r : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(discord.typing).toContain(discord.channelId);
    // Streamed: the message was created with the first words and edited as more came.
    expect(reply!.history.length).toBeGreaterThan(2);
    expect(reply!.history[0]!.length).toBeLessThan(reply!.content.length);
    expect(reply!.content).toMatch(/^Lyra says: Water the basil/);
    expect(repliesTo(msg.id as string)).toHaveLength(1);
  });

  it("DMs and configured channels are answered without a mention; other channels only with one", async () => {
    const listed = "1300000000000099001";
    await adapter!.close();
    adapter = await start({ channels: [listed] });
    await using _p = await pragmatist(() => "Heard you.", 0);
    const dm = discord.userMessage({ content: "hi in private", dm: true, mention: false, channelId: "1300000000000099002" });
    const inListed = discord.userMessage({ content: "hi all", mention: false, channelId: listed });
    const elsewhere = discord.userMessage({ content: "not for the bot", mention: false });
    await eventually(
      "both replies",
      () =>
        repliesTo(dm.id)[0]?.content === "Lyra says: Heard you." && repliesTo(inListed.id)[0]?.content === "Lyra says: Heard you."
          ? true
          : undefined,
      { timeoutMs: 30_000 },
    );
    expect(repliesTo(dm.id)[0]!.channel_id).toBe("1300000000000099002");
    expect(repliesTo(elsewhere.id)).toHaveLength(0);
  });

  it("a 5,000-character reply is split in three messages without breaking a code block", async () => {
    // Three parts of about 1,650 characters: the code block must travel whole in the middle message.
    const code =
      "```ts\n" +
      Array.from({ length: 30 }, (_, i) => `const step${String(i).padStart(2, "0")}=water(basil,${i});//keep-the-soil-moist-not-wet`).join(
        "\n",
      ) +
      "\n```";
    const prose = (s: string) => Array.from({ length: 60 }, () => s).join(" ");
    const long = `${prose("Basil-likes-sun-and-warmth.")}\n\n${code}\n\n${prose("Pinch-the-flowers-off-early.")}`;
    expect(long.length).toBeGreaterThan(4900);
    expect(code.length).toBeGreaterThan(1500);
    await using _p = await pragmatist(() => long, 0);
    const msg = discord.userMessage({ content: "Give me the long version" });
    const parts = await eventually(
      "all parts of the long reply",
      () => {
        const first = repliesTo(msg.id)[0];
        if (!first) return undefined;
        const all = discord.channelMessages(discord.channelId).filter((m) => BigInt(m.id) >= BigInt(first.id) && m.content.length > 0);
        const joined = all.map((m) => m.content).join("");
        return joined.includes("early. Pinch") && all.at(-1)!.content.endsWith("Pinch-the-flowers-off-early.") ? all : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(parts).toHaveLength(3);
    for (const p of parts) {
      expect(p.content.length).toBeLessThanOrEqual(2000);
      expect((p.content.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    expect(parts[1]!.content).toBe(code);
  });

  it("an @everyone written by the model pings nobody: every send says allowed_mentions { parse: [] }", async () => {
    await using _p = await pragmatist(() => "@everyone @here <@4242> <@&123> the basil is ready!", 0);
    const msg = discord.userMessage({ content: "announce it" });
    const [reply] = await eventually(
      "the reply",
      () => {
        const r = repliesTo(msg.id);
        return r[0]?.content === "Lyra says: @everyone @here <@4242> <@&123> the basil is ready!" ? r : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(reply!.content).toContain("@everyone");
    // The double refuses (400) and records any send without allowed_mentions: { parse: [] }.
    expect(discord.violations).toEqual([]);
  });

  it("a re-sent message id gives one reply", async () => {
    await using _p = await pragmatist(() => "Once only.", 0);
    const msg = discord.userMessage({ content: "say it once" });
    discord.userMessage({ content: "say it once", id: msg.id as string });
    await eventually("the reply", () => (repliesTo(msg.id as string)[0]?.content === "Lyra says: Once only." ? true : undefined), {
      timeoutMs: 30_000,
    });
    discord.userMessage({ content: "say it once", id: msg.id as string });
    // A later message's reply: the re-sent id, had it been taken, would have been answered first.
    const later = discord.userMessage({ content: "and this" });
    await eventually("the later message's reply", () => repliesTo(later.id as string)[0], { timeoutMs: 30_000 });
    expect(repliesTo(msg.id as string)).toHaveLength(1);
  });

  it("a 429 from Discord is obeyed: the request is retried only after retry_after", async () => {
    await using _p = await pragmatist(() => "Rate limits are fine.", 0);
    const limit = discord.rateLimitNext(/^POST \/channels\/\d+\/messages$/, 1.2);
    const msg = discord.userMessage({ content: "go on" });
    await eventually(
      "the reply",
      () => (repliesTo(msg.id as string)[0]?.content === "Lyra says: Rate limits are fine." ? true : undefined),
      { timeoutMs: 30_000 },
    );
    expect(limit.hitAt()).toBeDefined();
    expect(limit.retriedAt()).toBeDefined();
    // Not a timing assertion of speed: the order the server saw (no retry before retry_after).
    expect(limit.retriedAt()! - limit.hitAt()!).toBeGreaterThanOrEqual(1100);
  });

  it("a user over the rate limit gets a short polite answer; the other messages are answered", async () => {
    await adapter!.close();
    adapter = await start({ user_rate: { messages: 2, window_s: 600 } });
    try {
      await using _p = await pragmatist(() => "ok.", 0);
      const a = discord.userMessage({ content: "one", userId: "777" });
      const b = discord.userMessage({ content: "two", userId: "777" });
      const c = discord.userMessage({ content: "three", userId: "777" });
      const polite = await eventually("the rate-limit answer", () => repliesTo(c.id as string)[0]);
      expect(polite.content).toMatch(/^You're sending messages faster than I can answer\. Please wait \d+ s and try again\.$/);
      await eventually(
        "the two answers",
        () =>
          repliesTo(a.id as string)[0]?.content === "Lyra says: ok." && repliesTo(b.id as string)[0]?.content === "Lyra says: ok."
            ? true
            : undefined,
        { timeoutMs: 30_000 },
      );
      expect(repliesTo(c.id as string)).toHaveLength(1);
    } finally {
      await adapter.close();
      adapter = await start();
    }
  });

  it("a busy channel answers politely instead of queueing more turns", async () => {
    await adapter!.close();
    adapter = await start({ channel_concurrency: 1 });
    try {
      await using _p = await pragmatist(() => "slow answer ".repeat(10), 100);
      const a = discord.userMessage({ content: "first", userId: "901" });
      await eventually("typing", () => (discord.typing.length ? true : undefined), { timeoutMs: 10_000 });
      const b = discord.userMessage({ content: "second", userId: "902" });
      const busy = await eventually("the busy answer", () => repliesTo(b.id as string)[0]);
      expect(busy.content).toBe(Say.busy);
      await eventually(
        "the first answer",
        () => (repliesTo(a.id as string)[0]?.content.startsWith("Lyra says: slow answer") ? true : undefined),
        { timeoutMs: 30_000 },
      );
    } finally {
      await adapter.close();
      adapter = await start();
    }
  });

  it("drain() takes no new message, posts the reply still coming, then stops", async () => {
    await using gated = await gatedPragmatist("Posted while draining.");
    const typed = discord.typing.length;
    const msg = discord.userMessage({ content: "still there?" });
    await eventually("typing", () => (discord.typing.length > typed ? true : undefined), { timeoutMs: 10_000 });
    const published: string[] = [];
    const inbox = f.mesh.nc.subscribe(subjects.inboxAll, {
      callback: (_e, m) => void published.push(decodeBody(InboxMessage, m, "inbox message").id),
    });
    const drained = adapter!.drain();
    adapter = undefined;
    const late = discord.userMessage({ content: "one more" });
    // The client has read it (its heartbeat says so): a taken message would be published by the time drain() resolves.
    await eventually("the client to read the late message", () => (discord.delivered(late.id as string) ? true : undefined));
    gated.release();
    await drained;
    expect(repliesTo(msg.id as string).map((m) => m.content)).toEqual(["Lyra says: Posted while draining."]);
    inbox.unsubscribe();
    expect(published).not.toContain(late.id);
    expect(repliesTo(late.id as string)).toHaveLength(0);
    adapter = await start();
  });

  it("a reply finished while the adapter was stopped is delivered once when it comes back", async () => {
    // The specialist waits for the gate: the adapter stops before the reply is stored.
    await using gated = await gatedPragmatist("Delivered after the restart.");
    const typed = discord.typing.length;
    const msg = discord.userMessage({ content: "are you there?" });
    await eventually("typing", () => (discord.typing.length > typed ? true : undefined), { timeoutMs: 10_000 });
    await adapter!.close();
    adapter = undefined;
    gated.release();
    // The reply is stored while no adapter runs.
    await eventually("the reply in the outbox", async () =>
      (await readStream(f.mesh, StreamName.Outbox, subjects.outboxAll, OutboxMessage)).some(
        (o) => o.final && o.text === "Lyra says: Delivered after the restart.",
      ),
    );
    expect(repliesTo(msg.id as string)).toHaveLength(0);
    adapter = await start();
    await eventually(
      "the delivery after restart",
      () => (repliesTo(msg.id as string).some((m) => m.content === "Lyra says: Delivered after the restart.") ? true : undefined),
      { timeoutMs: 30_000 },
    );
    // Another restart does not post it again.
    await adapter.close();
    adapter = await start();
    // A later message's reply comes after the outbox's older entries, so a second post would be in by then.
    const later = discord.userMessage({ content: "and now?" });
    await eventually("the later message's reply", () => repliesTo(later.id as string)[0], { timeoutMs: 30_000 });
    expect(repliesTo(msg.id as string)).toHaveLength(1);
  });
});
