/**
 * `lyra discord` and `lyra up` as child processes of the real CLI, with the bot pointed at the
 * Discord double ($DISCORD_API_URL) and a real nats-server.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { committeeYaml, runLyra, type CliProcess } from "../../harness/committee-fixture.ts";
import { DISCORD_TOKEN, startDiscordDouble, type DiscordDouble } from "../../doubles/discord.ts";
import { eventually } from "../../harness/eventually.ts";

let server: NatsServer;
let discord: DiscordDouble;
let configFile: string;

beforeAll(async () => {
  server = await startNatsServer();
  discord = await startDiscordDouble();
  configFile = join(mkdtempSync(join(tmpdir(), "lyra-discord-")), "mesh.yaml");
  writeFileSync(configFile, `${committeeYaml({ natsUrl: server.url })}\ndiscord: { edit_interval_ms: 250, guild: "${discord.guildId}" }\n`);
}, 60_000);

afterAll(async () => {
  await discord?.close();
  await server?.[Symbol.asyncDispose]();
});

const stop = async (p: CliProcess) => {
  p.proc.kill("SIGTERM");
  return p.exited;
};

describe("lyra discord (CLI)", () => {
  it("refuses to start without DISCORD_TOKEN, or without a discord section", async () => {
    const noToken = runLyra(["discord", "--config", configFile], { DISCORD_TOKEN: "" });
    expect(await noToken.exited).toBe(2);
    expect(noToken.output()).toMatch(/set DISCORD_TOKEN to the bot's token/);
    const plain = join(mkdtempSync(join(tmpdir(), "lyra-discord-")), "mesh.yaml");
    writeFileSync(plain, committeeYaml({ natsUrl: server.url }));
    const noSection = runLyra(["discord", "--config", plain], { DISCORD_TOKEN });
    expect(await noSection.exited).toBe(2);
    expect(noSection.output()).toMatch(/the config has no 'discord:' section/);
  });

  it("lyra up starts the Discord front door when configured: a mention is answered through the whole local mesh", async () => {
    const up = runLyra(["up", "--scripted", "--config", configFile], {
      NATS_URL: server.url,
      DISCORD_TOKEN,
      DISCORD_API_URL: discord.apiUrl,
    });
    try {
      await up.waitFor(/Discord front door connected/, 30_000);
      const m = discord.userMessage({ content: "How do I keep basil alive?" });
      const reply = await eventually(
        "the final reply",
        () => [...discord.messages.values()].find((x) => x.reply_to === m.id && x.content.startsWith("Lyra says:")),
        { timeoutMs: 30_000 },
      );
      expect(reply.content).toBe("Lyra says: Pragmatist answer to: How do I keep basil alive?");
      expect(discord.commands.length).toBe(5);
      expect(discord.violations.splice(0)).toEqual([]);
    } finally {
      expect(await stop(up)).toBe(0);
    }
  });

  it("lyra up stays up without Discord when the token is refused, and says why", async () => {
    const up = runLyra(["up", "--scripted", "--config", configFile], {
      NATS_URL: server.url,
      DISCORD_TOKEN: "wrong-token",
      DISCORD_API_URL: discord.apiUrl,
    });
    try {
      await up.waitFor(/mesh up on/, 30_000);
      expect(up.output()).toMatch(/the Discord front door could not start: .*invalid token.* \(check DISCORD_TOKEN\)/i);
    } finally {
      expect(await stop(up)).toBe(0);
    }
  });

  it("lyra discord alone serves /metrics with the front-door metrics", async () => {
    const d = runLyra(["discord", "--config", configFile, "--metrics-port", "0"], {
      DISCORD_TOKEN,
      DISCORD_API_URL: discord.apiUrl,
      LYRA_LOG_LEVEL: "info",
    });
    try {
      await d.waitFor(/discord front door ready/, 30_000);
      const port = Number(/"metricsPort":(\d+)/.exec(d.output())?.[1]);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain("# TYPE lyra_frontdoor_requests_total counter");
      expect(text).toContain("# TYPE lyra_frontdoor_reply_seconds histogram");
      expect(text).toContain("# TYPE lyra_frontdoor_rate_limited_total counter");
    } finally {
      expect(await stop(d)).toBe(0);
    }
  });
});
