/**
 * The pipelined voice on real Ollama and the small model: a turn whose draft has several sentences
 * is voiced segment by segment (two or more voice_segment events), the reply is non-empty and the
 * voice streamed before the final. Properties only: the model's words are its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { committeeFromConfig } from "../../agents/host/conductor-options.ts";
import { startAgentHost, type AgentHost } from "../../agents/host/host.ts";
import { startConductor, type Conductor } from "../../mesh/conductor/index.ts";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createRoleClient } from "../../mesh/rolecall/client.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import { logOf, newId } from "../integration/conductor/helpers.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, startOllama, type RealOllama } from "../harness/real.ts";
import { realTurn } from "./helpers/turn.ts";

let ollama: RealOllama;
let nats: NatsServer;
let mesh: Mesh;
let host: AgentHost;
let conductor: Conductor;

beforeAll(async () => {
  ollama = await startOllama({ parallel: 2 });
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
  const role = (kind: string, maxTokens: number) =>
    `{ kind: ${kind}, model: "${CHAT_MODEL}", backend: ollama, max_tokens: ${maxTokens}, num_ctx: 2048, ` +
    `keep_alive: 10m, first_token_timeout_ms: 120000 }`;
  const config = parseMeshConfig(
    `
mesh: { name: real, owner: tester }
nats: { servers: ["${nats.url}"] }
roles:
  router: ${role("router", 96)}
  pragmatist: ${role("specialist", 96)}
  voice: ${role("voice", 24)}
hosts:
  local: { ollama_url: "${ollama.url}", roles: [router, pragmatist, voice] }
conductor: { pipeline: true, segment_sentences: 1, segment_min_chars: 20 }
`,
    { source: "real pipeline test", env: {} },
  );
  host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  conductor = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config), ackWaitMs: 30_000 });
});
afterAll(async () => {
  await conductor?.close();
  await host?.close();
  await mesh?.close();
  await nats?.close();
  await ollama?.close();
});

describe("the pipelined voice on a real model", () => {
  it("voices a several-sentence draft in two or more segments; the reply is non-empty and streamed first", async () => {
    const conversation = newId("real");
    const seen = await realTurn(
      mesh,
      conversation,
      "Write three short paragraphs about tea: where it comes from, how to brew it, and why people like it.",
    );
    const final = seen.at(-1)!;
    expect(final.final).toBe(true);
    expect(final.error).toBeUndefined();
    expect(final.text.trim().length).toBeGreaterThan(0);
    expect(seen.filter((o) => !o.final && o.step === "voice" && o.text.length > 0).length).toBeGreaterThan(0);
    const log = await logOf(mesh, conversation);
    const segments = log.filter((e) => e.type === "voice_segment");
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const s of segments) expect(s).toMatchObject({ backend: "ollama", model: CHAT_MODEL });
    expect(log.find((e) => e.type === "voice_reply")).toMatchObject({ text: final.text, segments: segments.length });
  });
});
