/** A mesh with the scripted committee, the Discord double, and the adapter pointed at it. */
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor, type Conductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { startAgentHost, type AgentHost } from "../../../agents/host/host.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { DiscordConfig } from "../../../schemas/index.ts";
import { startDiscordAdapter, type DiscordAdapter, type DiscordAdapterOptions } from "../../../agents/frontdoors/discord/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { DISCORD_TOKEN, startDiscordDouble, type DiscordDouble, type PostedMessage } from "../../doubles/discord.ts";

export interface DiscordFixture {
  server: NatsServer;
  mesh: Mesh;
  discord: DiscordDouble;
  /** Starts an adapter with the test defaults and these config keys. */
  start(config?: Record<string, unknown>, extra?: Partial<DiscordAdapterOptions>): Promise<DiscordAdapter>;
  /** The bot's messages that reply to the user's message `id`. */
  repliesTo(id: unknown): PostedMessage[];
  /** Serves the pragmatist: answers `reply(input)` word by word. */
  pragmatist(reply: (input: string) => string, delayMs?: number): ReturnType<typeof serveRole>;
  close(): Promise<void>;
}

export async function discordFixture(): Promise<DiscordFixture> {
  const server = await startNatsServer();
  const mesh = await connectMesh({ servers: server.url });
  const config = committeeConfig({ natsUrl: server.url, delayMs: 15, hostRoles: ["router", "philosopher", "voice"] });
  const host: AgentHost = await startAgentHost({
    config,
    host: "local",
    mesh,
    log: silentLogger,
    metricsPort: null,
    heartbeatIntervalS: 0,
  });
  const conductor: Conductor = await startConductor(mesh, {
    roles: createRoleClient(mesh),
    // One voice call per reply: these tests check the reply's text (its splitting) as the scripted voice writes it once.
    committee: { ...committeeFromConfig(config), pipeline: false },
    ackWaitMs: 5000,
  });
  const discord = await startDiscordDouble();
  const adapters = new Set<DiscordAdapter>();
  return {
    server,
    mesh,
    discord,
    async start(cfg = {}, extra = {}) {
      const config = DiscordConfig.parse({
        edit_interval_ms: 250,
        user_rate: { messages: 50, window_s: 60 },
        channel_concurrency: 8,
        ...cfg,
      });
      const a = await startDiscordAdapter({
        mesh,
        config,
        token: DISCORD_TOKEN,
        tenant: "test",
        log: silentLogger,
        apiUrl: discord.apiUrl,
        ...extra,
      });
      adapters.add(a);
      return a;
    },
    repliesTo: (id) => [...discord.messages.values()].filter((m) => m.reply_to === id),
    pragmatist: (reply, delayMs = 10) =>
      serveRole(mesh, {
        role: "pragmatist",
        host: "test",
        heartbeatIntervalS: 0,
        async *handler(req) {
          const input = req.messages?.at(-1)?.content ?? req.prompt ?? "";
          const words = reply(input).split(/(?<= )/);
          for (const w of words) {
            yield { type: "response", data: w };
            if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
          }
          yield {
            type: "final",
            data: {
              model: "m",
              backend: "test",
              host: "test",
              usage: { prompt_tokens: 0, completion_tokens: words.length },
              timings: { total_ms: 1 },
            },
          };
        },
      }),
    async close() {
      for (const a of adapters) await a.close();
      await conductor.close();
      await host.close();
      await mesh.close();
      await discord.close();
      await server[Symbol.asyncDispose]();
    },
  };
}
