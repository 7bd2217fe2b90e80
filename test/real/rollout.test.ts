/**
 * A role with variants on real Ollama and a real small model: the conversation's variant answers
 * and is logged, and a shadow variant (another system prompt) answers the same prompt in the
 * background, logged as a shadow_answer with real text and timings. Properties only.
 */
import { describe, expect, it } from "vitest";
import { conductorOptions } from "../../agents/host/conductor-options.ts";
import { startAgentHost } from "../../agents/host/host.ts";
import { startConductor } from "../../mesh/conductor/index.ts";
import { connectMesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import { logOf, newId } from "../integration/conductor/helpers.ts";
import { eventually } from "../harness/eventually.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, startOllama } from "../harness/real.ts";
import { realTurn } from "./helpers/turn.ts";

describe("rollout variants on real Ollama", () => {
  it("the conversation's variant answers, and a shadow with its own system prompt answers the same prompt unseen", async () => {
    await using ollama = await startOllama();
    await using nats = await startNatsServer();
    await using mesh = await connectMesh({ servers: nats.url });
    const role = (kind: string, maxTokens: number, extra = "") =>
      `{ kind: ${kind}, model: "${CHAT_MODEL}", max_tokens: ${maxTokens}, num_ctx: 2048, keep_alive: 10m, ` +
      `first_token_timeout_ms: 120000, slots: 2${extra} }`;
    const config = parseMeshConfig(
      `
mesh: { name: real, owner: tester }
nats: { servers: ["${nats.url}"] }
roles:
  router: ${role("router", 96)}
  pragmatist: ${role(
    "specialist",
    24,
    ', variants: [{ name: control, weight: 100 }, { name: terse, weight: 100, shadow: true, system: "Answer in one short sentence." }]',
  )}
  voice: ${role("voice", 24)}
hosts:
  local: { ollama_url: "${ollama.url}", roles: [router, pragmatist, voice] }
conductor: { pipeline: false }
`,
      { source: "real rollout test", env: {} },
    );
    await using _host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
    await using _core = await startConductor(mesh, { ...conductorOptions(config, mesh, silentLogger), ackWaitMs: 60_000 });

    const conv = newId("r");
    const seen = await realTurn(mesh, conv, "How do I keep basil alive?");
    const final = seen.at(-1)!;
    expect(final.final).toBe(true);
    expect(final.error).toBeUndefined();
    expect(final.text.trim().length).toBeGreaterThan(0);
    const log = await eventually(
      "the shadow answer logged",
      async () => {
        const l = await logOf(mesh, conv);
        return l.some((e) => e.type === "shadow_answer") && l;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    expect(log.find((e) => e.type === "specialist_finished")).toMatchObject({ role: "pragmatist", variant: "control", backend: "ollama" });
    const shadow = log.find((e) => e.type === "shadow_answer")!;
    expect(shadow).toMatchObject({ role: "pragmatist", step: "specialist", variant: "terse", backend: "ollama", model: CHAT_MODEL });
    expect(shadow).not.toHaveProperty("error");
    if (shadow.type !== "shadow_answer") throw new Error("not a shadow answer");
    expect(shadow.text.trim().length).toBeGreaterThan(0);
    expect(shadow.primary?.variant).toBe("control");
    expect(shadow.primary?.text.trim().length).toBeGreaterThan(0);
    expect(shadow.tokens).toBeGreaterThan(0);
  }, 300_000);
});
