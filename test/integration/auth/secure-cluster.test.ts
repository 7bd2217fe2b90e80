/**
 * The production layout end to end: three nats-server nodes running infra/nats/nats.conf (TLS on
 * client and route connections, JetStream streams at three replicas, the authorization from
 * `lyra auth`), and every process connected as its own generated user: the agent host (Ollama
 * double), the conductor, `lyra tools` with the built-in clock, a front door and the CLI.
 * Then a node is SIGKILLed under load and restarted: nothing acknowledged is lost or doubled.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor, type Conductor } from "../../../mesh/conductor/index.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { LogEvent, OutboxMessage } from "../../../schemas/index.ts";
import { parseMeshConfig, type MeshConfig } from "../../../schemas/config.ts";
import { conductorOptions } from "../../../agents/host/conductor-options.ts";
import { startAgentHost, type AgentHost } from "../../../agents/host/host.ts";
import { committeeYaml, runLyra, type CliProcess } from "../../harness/committee-fixture.ts";
import { startSecureCluster, type SecureCluster } from "../../harness/secure-cluster.ts";
import { startOllamaDouble, toolResultsOf, type OllamaChatBody, type OllamaDouble, isVoiceChat } from "../../doubles/ollama.ts";
import { newId, readStream } from "../conductor/helpers.ts";
import { connectAs, generateAuth, type GeneratedAuth } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

const lastUser = (b: OllamaChatBody) => b.messages?.findLast((m) => m.role === "user")?.content ?? "";
const isVoice = isVoiceChat;

/** Specialists read the clock for a "time" question; the voice restates the draft. */
function model(b: OllamaChatBody) {
  if (isVoice(b)) return `Lyra: ${lastUser(b)}`;
  const results = toolResultsOf(b);
  if (results.length) return `It is ${results.map((r) => r.content).join(" ")}`;
  if (lastUser(b).includes("time") && b.tools?.length)
    return { tool_calls: [{ function: { name: "clock__now", arguments: { timezone: "UTC" } } }] };
  return `Answer to ${lastUser(b)}`;
}

describe("the committee on the secured three-node TLS cluster", () => {
  let auth: GeneratedAuth;
  let cluster: SecureCluster;
  let ollama: OllamaDouble;
  let config: MeshConfig;
  const meshes: Record<string, Mesh> = {};
  let tools: CliProcess;
  let host: AgentHost;
  let core: Conductor;

  beforeAll(async () => {
    ollama = await startOllamaDouble({
      models: ["qwen3:4b"],
      parallel: 64,
      firstTokenDelayMs: 20,
      tokenDelayMs: 5,
      reply: model,
      json: () => ({ specialist: "pragmatist", confidence: 0.9, reason: "practical" }),
    });
    const yaml =
      committeeYaml({ natsUrl: "nats://127.0.0.1:4222", backend: "ollama", ollamaUrl: ollama.url, clock: true, slots: 8, queue: 64 }) +
      "\njetstream: { replicas: 3 }\n";
    config = parseMeshConfig(yaml, { source: "test", env: {} });
    auth = await generateAuth(yaml);
    cluster = await startSecureCluster({ authConf: auth.conf });
    for (const user of ["agent-local", "core", "discord", "cli"]) meshes[user] = await connectAs(auth, user, cluster.urls, cluster.caFile);
    // `lyra tools` as deployed: the shared config, its identity and the CA from the environment.
    tools = runLyra(["tools", "--config", auth.configFile, "--host", "tools-1", "--metrics-port", "0"], {
      ...auth.env("tools"),
      NATS_URL: cluster.urls.join(","),
      NATS_CA_FILE: cluster.caFile,
    });
    await tools.waitFor(/lyra tools ready/, 30_000);
    host = await startAgentHost({
      config,
      host: "local",
      mesh: meshes["agent-local"]!,
      log: silentLogger,
      metricsPort: null,
      heartbeatIntervalS: 0,
    });
    // A fresh cluster elects its JetStream meta leader within seconds; the conductor creates the R3 streams.
    core = await eventually(
      "the conductor to create its streams",
      async () => startConductor(meshes.core!, conductorOptions(config, meshes.core!, silentLogger)).catch(() => undefined),
      { timeoutMs: 30_000 },
    );
  }, 90_000);

  afterAll(async () => {
    await core?.close();
    await host?.close();
    tools?.proc.kill("SIGTERM");
    await tools?.exited;
    for (const m of Object.values(meshes)) await m.close();
    await cluster?.[Symbol.asyncDispose]();
    await ollama?.[Symbol.asyncDispose]();
  });

  /** A front door's turn: publish (re-sent on failure, deduplicated by id), then the stored reply. */
  async function frontDoorTurn(conversation: string, text: string, id = newId()): Promise<{ id: string; acked: boolean }> {
    const door = meshes.discord!;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await publishInbox(door, { id, channel: "discord", conversation, user: { id: "u1" }, text });
        return { id, acked: true };
      } catch {
        await new Promise((r) => setTimeout(r, 250)); // no quorum for a moment: send again
      }
    }
    return { id, acked: false };
  }

  it("answers through every hop, each process with its own user, streams at three replicas", async () => {
    const jsm = await jetstreamManager(meshes.core!.nc);
    for (const name of Object.values(StreamName)) expect((await jsm.streams.info(name)).config.num_replicas, name).toBe(3);

    // The CLI as an operator runs it: the environment file lyra auth wrote, TLS with the dev CA.
    const ask = runLyra(["ask", "--conversation", "sec1", "What time is it?"], {
      ...auth.env("cli"),
      NATS_URL: cluster.urls.join(","),
      NATS_CA_FILE: cluster.caFile,
    });
    expect(await ask.exited, ask.output()).toBe(0);
    expect(ask.stdout()).toMatch(/^Lyra: Lyra: It is .* \d{4} at \d\d:\d\d:\d\d UTC/m);

    // $SRV discovery: the operator asks, the agent host and the tool host answer (allow_responses).
    const status = runLyra(["status", "--json"], { ...auth.env("cli"), NATS_URL: cluster.urls.join(","), NATS_CA_FILE: cluster.caFile });
    expect(await status.exited, status.output()).toBe(0);
    for (const name of ["router", "pragmatist", "philosopher", "voice", "clock"]) expect(status.stdout()).toContain(`"${name}"`);

    // A front door with its own user, following its reply live.
    const id = newId();
    const watch = watchReplies(meshes.discord!, "discord", "sec2", id);
    await meshes.discord!.nc.flush();
    await frontDoorTurn("sec2", "Is a hot dog a sandwich?", id);
    let final: OutboxMessage | undefined;
    for await (const o of watch) if (o.final) final = o;
    expect(final?.text).toBe("Lyra: Answer to Is a hot dog a sandwich?");

    // The log (read as the operator) holds the tool call the pragmatist made with its grant.
    const log = await readStream(meshes.cli!, StreamName.Log, subjects.log("sec1"), LogEvent);
    expect(log.map((e) => e.type)).toEqual(
      expect.arrayContaining(["user_message", "routed", "tool_call", "tool_result", "specialist_finished", "voice_reply"]),
    );
  }, 60_000);

  it("loses no acknowledged turn, and doubles none, when a node is SIGKILLed under load and restarted", async () => {
    const conversations = Array.from({ length: 6 }, (_, i) => `loss${i}`);
    const turnsEach = 4;
    const sent: { conversation: string; id: string; acked: boolean }[] = [];
    const load = Promise.all(
      conversations.map(async (conversation) => {
        for (let t = 0; t < turnsEach; t++) {
          const r = await frontDoorTurn(conversation, `question ${t} of ${conversation}`);
          sent.push({ conversation, ...r });
          // The next message of a conversation after its reply, as a person types.
          // Looked up as lyra serve and the conductor do: the conversation's last stored reply, by a
          // direct get (as core, whose grant has it), which any current replica answers. A consumer
          // read instead stalled for seconds when its consumer or the stream's leader was lost.
          const answered = async () => ((await lastReply(conversation))?.in_reply_to === r.id ? true : undefined);
          await eventually(`reply to ${r.id}`, () => answered().catch(() => undefined), { timeoutMs: 60_000 });
        }
      }),
    );
    await eventually("the first turns", () => (sent.length >= 4 ? true : undefined), { timeoutMs: 30_000 });
    // The node that leads the conversation log: its loss forces a leader election under load.
    const leader = (await jetstreamManager(meshes.core!.nc).then((m) => m.streams.info(StreamName.Log))).cluster?.leader ?? "nats-1";
    const victim = Number(leader.replace("nats-", ""));
    const sentAtKill = sent.length;
    await cluster.kill(victim);
    await new Promise((r) => setTimeout(r, 1500));
    await cluster.restart(victim);
    await load;

    expect(sent.length).toBe(conversations.length * turnsEach);
    expect(sentAtKill, "turns were still to come when the node died").toBeLessThan(sent.length);
    // The restarted node caught up: the log has three current replicas again.
    const jsm = await jetstreamManager(meshes.core!.nc);
    await eventually(
      "the log's replicas to be current again",
      async () => {
        const c = (await jsm.streams.info(StreamName.Log).catch(() => undefined))?.cluster;
        const peers = c?.replicas ?? [];
        return peers.length === 2 && peers.every((p) => p.current && !p.offline) ? true : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(sent.every((s) => s.acked)).toBe(true);
    for (const conversation of conversations) {
      const ids = sent.filter((s) => s.conversation === conversation).map((s) => s.id);
      const out = await replies(conversation);
      // Every acknowledged message has exactly one stored reply.
      expect(out.map((o) => o.in_reply_to).sort(), conversation).toEqual([...ids].sort());
      const log = await readStream(meshes.cli!, StreamName.Log, subjects.log(conversation), LogEvent);
      for (const type of ["user_message", "routed", "specialist_finished", "voice_reply"] as const) {
        expect(log.filter((e) => e.type === type).length, `${conversation} ${type}`).toBe(turnsEach);
      }
      expect(
        new Set(log.filter((e) => e.type === "user_message").map((e) => e.turn)).size,
        `${conversation}: turns numbered once each`,
      ).toBe(turnsEach);
    }
    process.stdout.write(
      `node loss: ${sent.length} turns in ${conversations.length} conversations, ${sentAtKill} sent before node ` +
        `nats-${victim} (the log's leader) was SIGKILLed and restarted; every reply stored once, every log event once\n`,
    );
  }, 180_000);

  const lastReply = async (conversation: string) => {
    const m = await (
      await jetstreamManager(meshes.core!.nc, { checkAPI: false })
    ).direct.getMessage(StreamName.Outbox, { last_by_subj: subjects.outbox("discord", conversation) });
    return m ? decodeBody(OutboxMessage, { data: m.data, headers: m.header }, "stored reply") : undefined;
  };
  const replies = (conversation: string) =>
    readStream(meshes.cli!, StreamName.Outbox, subjects.outbox("discord", conversation), OutboxMessage);
});
