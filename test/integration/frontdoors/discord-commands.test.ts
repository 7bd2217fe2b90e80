/**
 * `lyra discord`: slash commands (/ask, /forget, /status, /join, /leave), images in and out, the
 * voice flow up to the voice server, and /metrics. Real discord.js against the Discord double.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { McpServer } from "@modelcontextprotocol/server";
import { jetstream } from "@nats-io/jetstream";
import { z } from "zod";
import { putMedia } from "../../../mesh/media.ts";
import { encodeBody } from "../../../mesh/body.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { InboxMessage, type OutboxMessage } from "../../../schemas/index.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { serveMcp, sdkHandler } from "../../../tools/index.ts";
import { serveMetrics } from "../../../mesh/metrics-server.ts";
import type { DiscordAdapter } from "../../../agents/frontdoors/discord/index.ts";
import { nextId, type DiscordDouble } from "../../doubles/discord.ts";
import { discordFixture, type DiscordFixture } from "./fixture.ts";
import { eventually } from "../../harness/eventually.ts";

let f: DiscordFixture;
let discord: DiscordDouble;
let adapter: DiscordAdapter;
const spoken: { channel: string; mime: string; bytes: Uint8Array }[] = [];

beforeAll(async () => {
  f = await discordFixture();
  discord = f.discord;
  adapter = await f.start({}, { onAudio: (channel, a) => void spoken.push({ channel, ...a }) });
}, 60_000);

afterEach(() => {
  expect(discord.violations.splice(0)).toEqual([]);
});

afterAll(async () => {
  await f?.close();
});

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
const OGG = Buffer.concat([Buffer.from("OggS"), Buffer.alloc(200, 1)]);

const original = (interactionId: unknown) =>
  [...discord.messages.values()].find((m) => m.channel_id === `interaction-${String(interactionId)}`);

describe("slash commands", () => {
  it("/ask defers, then edits its reply with the answer from the mesh", async () => {
    await using _p = await f.pragmatist(() => "Repot it in spring.", 20);
    const i = discord.command("ask", [{ name: "question", type: 3, value: "When should I repot basil?" }]);
    await eventually("the /ask answer", () => (original(i.id)?.content === "Lyra says: Repot it in spring." ? true : undefined), {
      timeoutMs: 30_000,
    });
    expect(discord.interactionResponses.find((r) => r.id === i.id)?.type).toBe(5);
  });

  it("/forget starts a new conversation: the next message comes without the earlier history", async () => {
    const seen: number[] = [];
    await using _p = await serveRole(f.mesh, {
      role: "pragmatist",
      host: "test",
      heartbeatIntervalS: 0,
      async *handler(req) {
        seen.push((req.messages ?? []).filter((m) => m.role === "user").length);
        yield { type: "response", data: `turn ${seen.length}` };
        yield {
          type: "final",
          data: { model: "m", backend: "test", host: "test", usage: { prompt_tokens: 0, completion_tokens: 1 }, timings: { total_ms: 1 } },
        };
      },
    });
    const channelId = nextId();
    const say = async (text: string, n: number) => {
      const m = discord.userMessage({ content: text, channelId });
      await eventually(`reply ${n}`, () => (f.repliesTo(m.id)[0]?.content === `Lyra says: turn ${n}` ? true : undefined), {
        timeoutMs: 30_000,
      });
    };
    await say("first", 1);
    await say("second", 2);
    const i = discord.command("forget", [], { channelId });
    await eventually("/forget's answer", () => (discord.interactionResponses.some((r) => r.id === i.id) ? true : undefined), {
      timeoutMs: 10_000,
    });
    expect(discord.interactionResponses.find((r) => r.id === i.id)?.data?.content).toMatch(/^Starting a new conversation here/);
    await say("third", 3);
    expect(seen).toEqual([1, 2, 1]);
  });

  it("conversation: user keeps each user's history apart in one channel; a thread of a listed channel is its own", async () => {
    const listed = nextId();
    const other = await f.start({ conversation: "user", channels: [listed] });
    await adapter.close();
    try {
      const seen: string[][] = [];
      await using _p = await serveRole(f.mesh, {
        role: "pragmatist",
        host: "test",
        heartbeatIntervalS: 0,
        async *handler(req) {
          seen.push((req.messages ?? []).filter((m) => m.role === "user").map((m) => m.content));
          yield { type: "response", data: `turn ${seen.length}` };
          yield {
            type: "final",
            data: {
              model: "m",
              backend: "test",
              host: "test",
              usage: { prompt_tokens: 0, completion_tokens: 1 },
              timings: { total_ms: 1 },
            },
          };
        },
      });
      const say = async (text: string, userId: string, channelId: string, n: number) => {
        const m = discord.userMessage({ content: text, channelId, userId, mention: false });
        await eventually(`reply ${n}`, () => (f.repliesTo(m.id)[0]?.content === `Lyra says: turn ${n}` ? true : undefined), {
          timeoutMs: 30_000,
        });
      };
      await say("alice here", "501", listed, 1);
      await say("bob here", "502", listed, 2);
      await say("alice again", "501", listed, 3);
      expect(seen[1]).toEqual(["bob here"]);
      expect(seen[2]).toEqual(["alice here", "alice again"]);
      // A thread under the listed channel: answered without a mention, in the thread, apart.
      const thread = nextId();
      discord.dispatch("THREAD_CREATE", {
        id: thread,
        type: 11,
        guild_id: discord.guildId,
        parent_id: listed,
        name: "basil",
        owner_id: "501",
        thread_metadata: { archived: false, auto_archive_duration: 60, archive_timestamp: new Date().toISOString(), locked: false },
        message_count: 0,
        member_count: 1,
        newly_created: true,
      });
      await say("in the thread", "501", thread, 4);
      expect(seen[3]).toEqual(["in the thread"]);
    } finally {
      await other.close();
      adapter = await f.start({}, { onAudio: (channel, a) => void spoken.push({ channel, ...a }) });
    }
  });

  it("/status shows the mesh's health in one embed", async () => {
    const i = discord.command("status");
    const m = await eventually(
      "the status embed",
      () => (original(i.id) as { embeds?: { title: string; fields: { name: string; value: string }[] }[] } | undefined)?.embeds?.[0],
      { timeoutMs: 15_000 },
    );
    expect(m.title).toBe("Lyra mesh: up");
    expect(m.fields[0]!.name).toMatch(/^Roles \(\d+\)$/);
    expect(m.fields[0]!.value).toContain("**router** @ local");
    expect(m.fields[0]!.value).toContain("**voice** @ local");
  });

  it("an unknown command and an empty /ask are answered, not dropped", async () => {
    const a = discord.command("dance");
    const b = discord.command("ask", [{ name: "question", type: 3, value: "   " }]);
    await eventually(
      "both answers",
      () =>
        discord.interactionResponses.some((r) => r.id === a.id) && discord.interactionResponses.some((r) => r.id === b.id)
          ? true
          : undefined,
      { timeoutMs: 10_000 },
    );
    expect(discord.interactionResponses.find((r) => r.id === a.id)?.data).toMatchObject({
      content: "I don't know the command /dance.",
      flags: 64,
    });
    expect(discord.interactionResponses.find((r) => r.id === b.id)?.data).toMatchObject({
      content: "Please give /ask a question.",
      flags: 64,
    });
  });
});

describe("images", () => {
  it("an image in a message goes into the inbox envelope as a sniffed, size-checked media item", async () => {
    const inbox: InboxMessage[] = [];
    const tap = f.mesh.nc.subscribe(subjects.inboxAll, { callback: (_e, m) => void inbox.push(decodeBody(InboxMessage, m, "inbox")) });
    try {
      await using _p = await f.pragmatist(() => "A fine basil.", 0);
      const url = discord.addFile("basil.png", PNG);
      const m = discord.userMessage({
        content: "look at my basil",
        attachments: [{ id: nextId(), filename: "basil.png", size: PNG.length, url, proxy_url: url, content_type: "image/png" }],
      });
      await eventually("the reply", () => (f.repliesTo(m.id)[0]?.content === "Lyra says: A fine basil." ? true : undefined), {
        timeoutMs: 30_000,
      });
      const sent = inbox.find((x) => x.id === m.id)!;
      expect(sent.media).toEqual([
        { kind: "image", mime: "image/png", size: PNG.length, filename: "basil.png", data: PNG.toString("base64") },
      ]);
      expect(sent.user.id).toBe("4242");
    } finally {
      tap.unsubscribe();
    }
  });

  it("images and audio in a reply are uploaded as files", async () => {
    const channelId = nextId();
    const inReplyTo = nextId();
    const image = await putMedia(f.mesh, PNG, { filename: "drawing.png" });
    const audio = await putMedia(f.mesh, OGG, { placement: "store" });
    const reply: OutboxMessage = {
      conversation: `d${channelId}`,
      channel: "discord",
      in_reply_to: inReplyTo,
      text: "Here is your drawing.",
      final: true,
      media: [image, audio],
      ts: Date.now(),
    };
    const { data, headers } = encodeBody(f.mesh, reply);
    await jetstream(f.mesh.nc).publish(subjects.outbox("discord", `d${channelId}`), data, { headers });
    const posted = await eventually("the posted reply", () => discord.channelMessages(channelId)[0], { timeoutMs: 15_000 });
    expect(posted.content).toBe("Here is your drawing.");
    expect(posted.reply_to).toBe(inReplyTo);
    expect(posted.attachments.map((a) => [a.filename, a.size])).toEqual([
      ["drawing.png", PNG.length],
      ["audio-2.ogg", OGG.length],
    ]);
    expect(posted.attachments[1]!.bytes.equals(OGG)).toBe(true);
  });
});

describe("voice", () => {
  it("/join says so and stays out when no speak tool is on the mesh", async () => {
    const ops = discord.ops.length;
    const i = discord.command("join", [{ name: "channel", type: 7, value: discord.voiceChannelId }]);
    const said = await eventually("/join's answer", () => original(i.id)?.content || undefined, { timeoutMs: 15_000 });
    expect(discord.interactionResponses.find((r) => r.id === i.id)).toMatchObject({ type: 5, data: { flags: 64 } });
    expect(said).toMatch(/^There is no `speak` tool on the mesh \(tool server 'speech'\)/);
    expect(discord.ops.slice(ops).filter((o) => o.op === 4)).toEqual([]);
  });

  it("/join joins the voice channel; replies in the channel are spoken with the speak tool; /leave leaves", async () => {
    const calls: string[] = [];
    const speech = await serveMcp(f.mesh, {
      server: "speech",
      tenant: "test",
      host: "t1",
      handler: sdkHandler(() => {
        const s = new McpServer({ name: "speech-test", version: "0.0.1" });
        s.registerTool(
          "speak",
          { description: "Say text aloud", inputSchema: z.object({ text: z.string(), format: z.string().optional() }) },
          async ({ text, format }) => {
            calls.push(`${format}:${text}`);
            const m = await putMedia(f.mesh, OGG, { placement: "store", filename: "speech.opus" });
            return { content: [{ type: "text" as const, text: "spoke" }], structuredContent: { media: [m] } };
          },
        );
        return s;
      }),
    });
    try {
      await using _p = await f.pragmatist(() => "Basil likes warmth.", 0);
      const i = discord.command("join", [{ name: "channel", type: 7, value: discord.voiceChannelId }]);
      const said = await eventually("/join's answer", () => original(i.id)?.content || undefined, { timeoutMs: 15_000 });
      expect(said).toBe(`Joined <#${discord.voiceChannelId}>: I'll speak my replies from this channel there. /leave to stop.`);
      // The gateway got the voice state update (op 4) for the voice channel.
      const join = await eventually(
        "op 4",
        () => discord.ops.find((o) => o.op === 4 && (o.d as { channel_id: string | null }).channel_id === discord.voiceChannelId),
        { timeoutMs: 10_000 },
      );
      expect(join.d).toMatchObject({ guild_id: discord.guildId, self_deaf: true });
      const m = discord.userMessage({ content: "tell me about basil" });
      await eventually("the reply", () => (f.repliesTo(m.id)[0]?.content === "Lyra says: Basil likes warmth." ? true : undefined), {
        timeoutMs: 30_000,
      });
      const audio = await eventually("the spoken reply", () => spoken.find((s) => s.channel === discord.channelId), { timeoutMs: 15_000 });
      expect(calls).toEqual([`opus:Lyra says: Basil likes warmth.`]);
      expect(audio.mime).toBe("audio/ogg");
      expect(Buffer.from(audio.bytes).equals(OGG)).toBe(true);
      const l = discord.command("leave");
      await eventually("/leave's answer", () => (discord.interactionResponses.some((r) => r.id === l.id) ? true : undefined), {
        timeoutMs: 10_000,
      });
      expect(discord.interactionResponses.find((r) => r.id === l.id)?.data?.content).toBe("Left the voice channel.");
      await eventually(
        "op 4 leaving",
        () => discord.ops.find((o) => o.op === 4 && (o.d as { channel_id: string | null }).channel_id === null),
        { timeoutMs: 10_000 },
      );
    } finally {
      await speech.close();
    }
  });
});

describe("metrics", () => {
  it("/metrics has the front-door metrics with door=discord", async () => {
    const server = await serveMetrics(adapter.metrics.registry, 0, "127.0.0.1");
    try {
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(text).toMatch(/lyra_frontdoor_requests_total\{door="discord",outcome="answered"\} [1-9]/);
      expect(text).toMatch(/lyra_frontdoor_reply_seconds_count\{door="discord"\} [1-9]/);
      expect(text).toContain("# TYPE lyra_frontdoor_rate_limited_total counter");
    } finally {
      server.close();
    }
  });
});
