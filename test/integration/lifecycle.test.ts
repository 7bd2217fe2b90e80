/**
 * The one lifecycle (mesh/lifecycle.ts), checked on the real long-lived things over a real
 * nats-server: closed() resolves after close() and never rejects, and disposing twice is safe.
 * One list of factories, one set of checks; the test doubles and the harness's servers too (the
 * real tier's Ollama and LiteLLM are not started here).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { startConductor } from "../../mesh/conductor/index.ts";
import { watchReplies } from "../../mesh/frontdoor.ts";
import { startHeartbeat } from "../../mesh/heartbeat.ts";
import type { Closable } from "../../mesh/lifecycle.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createRoleClient, serveRole } from "../../mesh/rolecall/index.ts";
import { startStateFeed } from "../../mesh/rolecall/statefeed.ts";
import { idTracer } from "../../mesh/telemetry.ts";
import { committeeFromConfig } from "../../agents/host/conductor-options.ts";
import { startAgentHost } from "../../agents/host/host.ts";
import { parseKeys, startServe } from "../../agents/frontdoors/openai/index.ts";
import { startDiscordAdapter } from "../../agents/frontdoors/discord/index.ts";
import { ensureStreams } from "../../mesh/streams.ts";
import { DiscordConfig } from "../../schemas/index.ts";
import { createMcpClient } from "../../tools/client.ts";
import { startToolHost } from "../../tools/host.ts";
import { sdkHandler } from "../../tools/sdk.ts";
import { serveMcp } from "../../tools/server.ts";
import { clockServer } from "../../tools/builtin/clock.ts";
import { committeeConfig } from "../harness/committee-fixture.ts";
import { startCommittee } from "../harness/conductor.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { DISCORD_TOKEN, startDiscordDouble, type DiscordDouble } from "../doubles/discord.ts";
import { startArxivDouble } from "../doubles/arxiv.ts";
import { startMediaWikiDouble } from "../doubles/mediawiki.ts";
import { startOllamaDouble } from "../doubles/ollama.ts";
import { startOpenAIDouble } from "../doubles/openai.ts";
import { startOtlpCollectorDouble } from "../doubles/otlp.ts";
import { startSearxngDouble } from "../doubles/searxng.ts";
import { startWolframDouble } from "../doubles/wolfram.ts";
import { wordsHandler } from "../fixtures/scripted.ts";

let server: NatsServer;
let mesh: Mesh;
let discord: DiscordDouble;

beforeAll(async () => {
  server = await startNatsServer();
  mesh = await connectMesh({ servers: server.url });
  await ensureStreams(mesh); // the Discord adapter reads the outbox
  discord = await startDiscordDouble();
});
afterAll(async () => {
  await discord?.close();
  await mesh?.close();
  await server?.[Symbol.asyncDispose]();
});

const config = () => committeeConfig({ natsUrl: server.url, delayMs: 0, slots: 2, queue: 2 });

/** Every long-lived thing, started fresh for each check. */
const factories: [string, () => Promise<Closable> | Closable][] = [
  ["Heartbeat", () => startHeartbeat(mesh, { owner: "lyra", role: "life", instanceId: "i", intervalS: 60 })],
  [
    "StateFeed",
    () =>
      startStateFeed(mesh, "life", "i", 60_000, () => ({
        host: "h",
        loaded: true,
        slots: 1,
        in_flight: 0,
        queue_depth: 0,
        queue_size: 0,
        degraded: false,
      })),
  ],
  ["ReplyWatch", () => watchReplies(mesh, "cli", "life", "m1")],
  ["Tracer (id only)", () => idTracer],
  ["RoleResponder", () => serveRole(mesh, { role: "life", host: "h", handler: wordsHandler("ok"), heartbeatIntervalS: 0 })],
  ["Conductor", () => startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config()), durable: "life" })],
  [
    "AgentHost",
    () => startAgentHost({ config: config(), host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 }),
  ],
  ["ToolServer", () => serveMcp(mesh, { server: "life-clock", tenant: "t", host: "h", handler: sdkHandler(() => clockServer()) })],
  ["McpClient", () => createMcpClient(mesh, { tenant: "t" })],
  ["ToolHost", () => startToolHost(mesh, { tenant: "t", host: "h", servers: { clock: { builtin: "clock" } }, log: silentLogger })],
  [
    "ServeServer",
    () => startServe({ mesh, roles: ["voice"], keys: parseKeys("sk-life-0123456789abcdef", "K"), port: 0, log: silentLogger }),
  ],
  [
    "DiscordAdapter",
    () =>
      startDiscordAdapter({
        mesh,
        config: DiscordConfig.parse({}),
        token: DISCORD_TOKEN,
        tenant: "t",
        log: silentLogger,
        apiUrl: discord.apiUrl,
      }),
  ],
  ["Committee (harness)", () => startCommittee(mesh, config(), { conductor: { durable: "life" } })],
  ["NatsServer (harness)", () => startNatsServer({ jetstream: false })],
  ["DiscordDouble", () => startDiscordDouble()],
  ["OllamaDouble", () => startOllamaDouble()],
  ["OpenAIDouble", () => startOpenAIDouble()],
  ["OtlpCollectorDouble", () => startOtlpCollectorDouble()],
  ["SearxngDouble", () => startSearxngDouble()],
  ["MediaWikiDouble", () => startMediaWikiDouble([])],
  ["ArxivDouble", () => startArxivDouble([])],
  ["WolframDouble", () => startWolframDouble({ appIds: [], answers: {} })],
];

describe.each(factories)("%s", (_name, start) => {
  it("closed() resolves after close(), never rejecting", async () => {
    const thing = await start();
    await thing.close();
    await expect(thing.closed()).resolves.toBeUndefined();
  });

  it("disposing twice is safe: the second waits for the first", async () => {
    const thing = await start();
    const first = thing[Symbol.asyncDispose]();
    const second = thing[Symbol.asyncDispose]();
    await expect(Promise.all([first, second])).resolves.toBeDefined();
    await expect(thing.closed()).resolves.toBeUndefined();
  });
});
