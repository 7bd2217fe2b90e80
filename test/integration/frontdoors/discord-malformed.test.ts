/**
 * Malformed input to `lyra discord`: gateway payloads of bad shapes, raw frames, messages and
 * interactions with wrong fields, attachments of the wrong type or size. Each is refused with a
 * clear log line or a clear answer to the user, and a good message sent after all of them is
 * still answered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import type { DiscordAdapter } from "../../../agents/frontdoors/discord/index.ts";
import { nextId, plainMessageFields, type DiscordDouble } from "../../doubles/discord.ts";
import { discordFixture, type DiscordFixture } from "./fixture.ts";
import { eventually } from "../../harness/eventually.ts";

let f: DiscordFixture;
let discord: DiscordDouble;
let adapter: DiscordAdapter;
const logs: { msg: string; why?: string; level: number }[] = [];

beforeAll(async () => {
  f = await discordFixture();
  discord = f.discord;
  const log = pino({ level: "warn" }, { write: (s: string) => void logs.push(JSON.parse(s) as (typeof logs)[number]) });
  adapter = await f.start({ max_image_bytes: 1024 }, { log });
}, 60_000);

afterAll(async () => {
  await f?.close();
});

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);

/** A well-formed MESSAGE_CREATE payload mentioning the bot, for the cases to break. */
function message(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: nextId(),
    type: 0,
    channel_id: discord.channelId,
    guild_id: discord.guildId,
    author: { id: "5151", username: "mallory", discriminator: "0", global_name: null, avatar: null },
    content: `<@${discord.botId}> hello`,
    mentions: [{ id: discord.botId, username: "lyra", discriminator: "0", bot: true, avatar: null, global_name: null }],
    attachments: [],
    ...plainMessageFields(),
    ...over,
  };
}

function interaction(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: nextId(),
    application_id: discord.appId,
    type: 2,
    token: `itok-${nextId()}`,
    version: 1,
    channel_id: discord.channelId,
    guild_id: discord.guildId,
    member: {
      user: { id: "5151", username: "mallory", discriminator: "0", global_name: null, avatar: null },
      roles: [],
      permissions: "0",
      joined_at: new Date().toISOString(),
      deaf: false,
      mute: false,
    },
    data: { id: nextId(), name: "ask", type: 1, options: [{ name: "question", type: 3, value: "hi" }] },
    ...over,
  };
}

const attachment = (o: Record<string, unknown>) => ({
  id: nextId(),
  filename: "x.png",
  size: PNG.length,
  url: discord.addFile(`f${nextId()}.png`, PNG),
  content_type: "image/png",
  ...o,
});
const invalidCount = async () =>
  Number(
    /lyra_frontdoor_requests_total\{door="discord",outcome="invalid"\} (\d+)/.exec(await adapter.metrics.registry.metrics())?.[1] ?? 0,
  );

/** Payloads refused before anything is published; `why` is the path the log names. */
const refusedPayloads: [string, () => [string, unknown], RegExp][] = [
  ["MESSAGE_CREATE with d null", () => ["MESSAGE_CREATE", null], /\(payload\)/],
  ["MESSAGE_CREATE with d a string", () => ["MESSAGE_CREATE", "hello"], /\(payload\)/],
  ["message without id", () => ["MESSAGE_CREATE", { ...message(), id: undefined }], /^id:/],
  ["message id not a snowflake", () => ["MESSAGE_CREATE", message({ id: "abc" })], /^id: is not a Discord snowflake/],
  ["message id with a subject wildcard", () => ["MESSAGE_CREATE", message({ id: "12.>" })], /^id:/],
  ["message without channel_id", () => ["MESSAGE_CREATE", { ...message(), channel_id: undefined }], /^channel_id:/],
  ["message without author", () => ["MESSAGE_CREATE", { ...message(), author: undefined }], /^author:/],
  ["author id a number", () => ["MESSAGE_CREATE", message({ author: { id: 5151 } })], /^author\.id:/],
  ["content a number", () => ["MESSAGE_CREATE", message({ content: 42 })], /^content:/],
  ["content over 4,000 characters", () => ["MESSAGE_CREATE", message({ content: "x".repeat(4001) })], /^content:/],
  ["mentions not an array", () => ["MESSAGE_CREATE", message({ mentions: "everyone" })], /^mentions:/],
  ["attachments not an array", () => ["MESSAGE_CREATE", message({ attachments: {} })], /^attachments:/],
  [
    "attachment without url",
    () => ["MESSAGE_CREATE", message({ attachments: [{ ...attachment({}), url: undefined }] })],
    /^attachments\.0\.url:/,
  ],
  [
    "attachment with a negative size",
    () => ["MESSAGE_CREATE", message({ attachments: [attachment({ size: -1 })] })],
    /^attachments\.0\.size:/,
  ],
  [
    "eleven attachments",
    () => ["MESSAGE_CREATE", message({ attachments: Array.from({ length: 11 }, () => attachment({})) })],
    /^attachments:/,
  ],
  ["guild_id not a snowflake", () => ["MESSAGE_CREATE", message({ guild_id: "guild" })], /^guild_id:/],
  ["interaction without token", () => ["INTERACTION_CREATE", { ...interaction(), token: undefined }], /^token:/],
  ["interaction without data", () => ["INTERACTION_CREATE", { ...interaction(), data: undefined }], /^data:/],
  [
    "interaction with an empty command name",
    () => ["INTERACTION_CREATE", interaction({ data: { name: "", options: [] } })],
    /^data\.name:/,
  ],
  [
    "interaction options not an array",
    () => ["INTERACTION_CREATE", interaction({ data: { name: "ask", options: "hi" } })],
    /^data\.options:/,
  ],
  [
    "interaction with neither member nor user",
    () => ["INTERACTION_CREATE", { ...interaction(), member: undefined }],
    /member\.user \(guild\) or user \(DM\)/,
  ],
  ["interaction without channel_id", () => ["INTERACTION_CREATE", { ...interaction(), channel_id: undefined }], /^channel_id:/],
];

describe("malformed input to lyra discord", () => {
  it(`refuses ${refusedPayloads.length} malformed gateway payloads, each logged naming the field, and loses no other message`, async () => {
    await using _p = await f.pragmatist(() => "Still here.", 0);
    const before = await invalidCount();
    for (const [, make] of refusedPayloads) {
      const [t, d] = make();
      discord.dispatch(t, d);
    }
    // Raw frames: not JSON, and a dispatch of an event nobody knows.
    discord.sendRaw("{ this is not json");
    discord.dispatch("NOT_AN_EVENT", { id: "1" });
    const good = discord.userMessage({ content: "are you still answering?" });
    await eventually("the good message's reply", () => (f.repliesTo(good.id)[0]?.content === "Lyra says: Still here." ? true : undefined), {
      timeoutMs: 30_000,
    });
    const refused = logs.filter((l) => /refused: malformed/.test(l.msg));
    for (const [name, , why] of refusedPayloads) {
      expect(
        refused.some((l) => why.test(l.why ?? "")),
        `${name}: no log line matching ${why}; got ${refused.map((l) => l.why).join(" | ")}`,
      ).toBe(true);
    }
    expect(refused).toHaveLength(refusedPayloads.length);
    expect((await invalidCount()) - before).toBe(refusedPayloads.length);
    expect(discord.violations.splice(0)).toEqual([]);
  });

  it("refuses bad attachments and empty messages with a clear answer to the user", async () => {
    await using _p = await f.pragmatist(() => "Fine.", 0);
    const notPng = Buffer.from("this is a text file, not a picture");
    const big = Buffer.concat([PNG, Buffer.alloc(2048, 1)]);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        "a PDF",
        message({ attachments: [attachment({ filename: "doc.pdf", content_type: "application/pdf" })] }),
        /^I can only look at images \(png, jpeg, gif, webp\); 'doc\.pdf' is application\/pdf\.$/,
      ],
      [
        "no content type",
        message({ attachments: [attachment({ filename: "mystery", content_type: undefined })] }),
        /'mystery' is of an unknown type/,
      ],
      [
        "declared over the limit",
        message({ attachments: [attachment({ filename: "huge.png", size: 50_000 })] }),
        /^'huge\.png' is 0\.0 MiB; I take images up to 0\.0 MiB\.$/,
      ],
      [
        "bytes that are not an image",
        message({ attachments: [attachment({ filename: "fake.png", size: notPng.length, url: discord.addFile("fake.png", notPng) })] }),
        /^'fake\.png' is not a png, jpeg, gif or webp image\.$/,
      ],
      [
        "a size that lies",
        message({ attachments: [attachment({ filename: "liar.png", size: 100, url: discord.addFile("liar.png", big) })] }),
        /^'liar\.png' is larger than/,
      ],
      [
        "an attachment that is gone",
        message({
          attachments: [attachment({ filename: "gone.png", url: `${discord.apiUrl.replace(/\/api$/, "")}/cdn/nothing-here.png` })],
        }),
        /^I could not download 'gone\.png' \(HTTP 404\)/,
      ],
      ["only a mention, no words", message({ content: `<@${discord.botId}>   ` }), /^What would you like to ask\?$/],
    ];
    for (const [, d] of cases) discord.dispatch("MESSAGE_CREATE", d);
    const good = discord.userMessage({ content: "and this one?", userId: "6161" });
    await eventually("the good message's reply", () => (f.repliesTo(good.id)[0]?.content === "Lyra says: Fine." ? true : undefined), {
      timeoutMs: 30_000,
    });
    for (const [name, d, answer] of cases) {
      const r = await eventually(`the answer to ${name}`, () => f.repliesTo(d.id)[0], { timeoutMs: 10_000 });
      expect(r.content, name).toMatch(answer);
      expect(f.repliesTo(d.id), name).toHaveLength(1);
    }
    expect(discord.violations.splice(0)).toEqual([]);
  });

  it("ignores bots, itself, system messages and messages not addressed to it", async () => {
    const ignored = [
      message({ author: { id: "999", username: "otherbot", bot: true } }),
      message({ author: { id: discord.botId, username: "lyra", bot: true } }),
      message({ type: 7 }), // a member joined
      message({ content: "talking among ourselves", mentions: [] }),
    ];
    for (const d of ignored) discord.dispatch("MESSAGE_CREATE", d);
    await using _p = await f.pragmatist(() => "Only this.", 0);
    const good = discord.userMessage({ content: "now you", userId: "7171" });
    await eventually("the reply", () => (f.repliesTo(good.id)[0]?.content === "Lyra says: Only this." ? true : undefined), {
      timeoutMs: 30_000,
    });
    for (const d of ignored) expect(f.repliesTo(d.id)).toHaveLength(0);
  });
});
