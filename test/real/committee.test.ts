/**
 * The committee end to end on real Ollama and a real small model: the router's choice is valid for
 * its schema, the specialist and the voice stream real text (deltas before the final), usage and
 * timings are the model's, and the log says backend ollama and the model. Properties only: the
 * model's words are its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { committeeFromConfig } from "../../agents/host/conductor-options.ts";
import { startAgentHost, type AgentHost } from "../../agents/host/host.ts";
import { startConductor, type Conductor } from "../../mesh/conductor/index.ts";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { createLogger, silentLogger } from "../../mesh/logger.ts";
import { createRoleClient } from "../../mesh/rolecall/client.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import { logOf, newId } from "../integration/conductor/helpers.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, startOllama, type RealOllama } from "../harness/real.ts";
import { realTurn } from "./helpers/turn.ts";
import { runLyra } from "../harness/committee-fixture.ts";

const SPECIALISTS = ["pragmatist", "philosopher"];

let ollama: RealOllama;
let nats: NatsServer;
let mesh: Mesh;
let host: AgentHost;
let conductor: Conductor;

beforeAll(async () => {
  ollama = await startOllama();
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url, ...(process.env.DEBUG_REAL ? { log: createLogger({ level: "debug" }) } : {}) });
  const role = (kind: string, description: string, maxTokens: number) =>
    `{ kind: ${kind}, model: "${CHAT_MODEL}", backend: ollama, description: "${description}", ` +
    `max_tokens: ${maxTokens}, num_ctx: 2048, keep_alive: 10m, first_token_timeout_ms: 120000 }`;
  const config = parseMeshConfig(
    `
mesh: { name: real, owner: tester }
nats: { servers: ["${nats.url}"] }
roles:
  router: ${role("router", "Chooses the specialist for each message.", 96)}
  pragmatist: ${role("specialist", "Practical, step-by-step answers.", 24)}
  philosopher: ${role("specialist", "Why-questions, meaning and values.", 24)}
  voice: ${role("voice", "Rewrites the draft in Lyra's voice.", 24)}
router: { default_specialist: pragmatist }
hosts:
  local: { ollama_url: "${ollama.url}", roles: [router, pragmatist, philosopher, voice] }
`,
    { source: "real committee test", env: {} },
  );
  host = await startAgentHost({
    config,
    host: "local",
    mesh,
    log: process.env.DEBUG_REAL ? createLogger({ level: "debug" }) : silentLogger,
    metricsPort: null,
    heartbeatIntervalS: 0,
  });
  conductor = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config), ackWaitMs: 30_000 });
});
afterAll(async () => {
  await conductor?.close();
  await host?.close();
  await mesh?.close();
  await nats?.close();
  await ollama?.close();
});

describe("the committee on a real model", () => {
  it("routes within the schema, streams specialist and voice, logs backend ollama with real usage; lyra usage reports it", async () => {
    const conversation = newId("real");
    const seen = await realTurn(mesh, conversation, "How do I boil an egg?");
    const final = seen.at(-1)!;
    expect(final.final).toBe(true);
    expect(final.text.trim().length).toBeGreaterThan(0);
    expect(final.error).toBeUndefined();
    // Partial output came before the final reply.
    expect(seen.filter((o) => !o.final && o.text.length > 0).length).toBeGreaterThan(0);

    const log = await logOf(mesh, conversation);
    const routed = log.find((e) => e.type === "routed");
    expect(routed).toMatchObject({ backend: "ollama", model: CHAT_MODEL });
    if (routed?.type !== "routed") return;
    // Schema-constrained output: a known specialist, never the "unusable answer" default.
    expect(SPECIALISTS).toContain(routed.specialist);
    expect(routed.reason).not.toMatch(/unusable|unavailable/);
    for (const type of ["specialist_finished", "voice_reply"] as const) {
      const e = log.find((x) => x.type === type) as
        { backend?: string; model?: string; tokens?: number; latency_ms?: number; text?: string } | undefined;
      expect(e, type).toMatchObject({ backend: "ollama", model: CHAT_MODEL });
      expect(e!.tokens, type).toBeGreaterThan(0);
      // The pipelined voice's reply counts the tokens of all its segments.
      expect(e!.tokens, type).toBeLessThanOrEqual(24 * ((e as { segments?: number }).segments ?? 1));
      expect(e!.latency_ms, type).toBeGreaterThan(0);
      expect(e!.text?.trim().length, type).toBeGreaterThan(0);
    }
    // Tokens in and out per step, and `lyra usage` sums them (the dev config prices nothing: cost unknown).
    const fin = log.find((x) => x.type === "specialist_finished") as { tokens_in?: number; tokens_out?: number; user?: string };
    expect(fin.tokens_in).toBeGreaterThan(0);
    expect(fin.tokens_out).toBeGreaterThan(0);
    expect(fin.user).toBe("tester");
    const usage = runLyra(["usage", "--nats", nats.url, "--by", "model", "--since", "1h", "--json"]);
    expect(await usage.exited, usage.output()).toBe(0);
    const rows = (JSON.parse(usage.stdout()) as { rows: { key: string; tokens_in: number; tokens_out: number; cost_usd: null }[] }).rows;
    const row = rows.find((r) => r.key === CHAT_MODEL)!;
    expect(row.cost_usd).toBeNull();
    expect(row.tokens_in).toBeGreaterThan(0);
    expect(row.tokens_out).toBeGreaterThan(0);
  });
});
