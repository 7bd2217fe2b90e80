/** The demo's path without Ollama: a scripted specialist does one tool round with the clock over NATS. */
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { startAgentHost } from "../../../agents/host/host.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { clockServer, sdkHandler, serveMcp } from "../../../tools/index.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { publishInbox } from "../../../mesh/frontdoor.ts";
import { askTurn, logOf, newId, outboxOf } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

describe("a scripted specialist with a tool grant", () => {
  it("calls clock.now once, then answers with the result, labelled scripted", async () => {
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const clock = await serveMcp(mesh, { server: "clock", tenant: "test", host: "tools-1", handler: sdkHandler(() => clockServer()) });
    try {
      const config = committeeConfig({ natsUrl: server.url, clock: true });
      await using _host = await startAgentHost({
        config,
        host: "local",
        mesh,
        log: silentLogger,
        metricsPort: null,
        heartbeatIntervalS: 0,
      });
      await using _core = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config) });

      const reply = await askTurn(mesh, "scripted-tool", "what time is it?");
      expect(reply.text).toMatch(/^Lyra says: Pragmatist read the clock: .* \(UTC\)$/);
      const log = await logOf(mesh, "scripted-tool");
      expect(log.map((e) => e.type)).toEqual([
        "user_message",
        "routed",
        "specialist_started",
        "tool_call",
        "tool_result",
        "specialist_finished",
        "voice_reply",
      ]);
      expect(log.find((e) => e.type === "tool_result")).toMatchObject({ server: "clock", tool: "now", status: "ok", is_error: false });
      expect(log.find((e) => e.type === "specialist_finished")).toMatchObject({ backend: "scripted", model: "scripted:qwen3:4b" });

      // A question the tool rule does not match is answered without a tool call.
      const plain = await askTurn(mesh, "scripted-plain", "how do I boil an egg?");
      expect(plain.text).toBe("Lyra says: Pragmatist answer to: how do I boil an egg?");
      expect((await logOf(mesh, "scripted-plain")).some((e) => e.type === "tool_call")).toBe(false);
    } finally {
      await clock.close();
    }
  });

  it("a conductor stopped mid-turn after the tool round: the next one finishes the turn; each tool event is logged once", async () => {
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const clock = await serveMcp(mesh, { server: "clock", tenant: "test", host: "tools-1", handler: sdkHandler(() => clockServer()) });
    try {
      const config = committeeConfig({ natsUrl: server.url, clock: true, delayMs: 60 });
      await using _host = await startAgentHost({
        config,
        host: "local",
        mesh,
        log: silentLogger,
        metricsPort: null,
        heartbeatIntervalS: 0,
      });
      const first = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config), ackWaitMs: 3000 });
      const conv = newId("c");
      await publishInbox(mesh, { id: newId(), channel: "cli", conversation: conv, user: { id: "t" }, text: "what time is it?" });
      await eventually("the tool result in the log", async () =>
        (await logOf(mesh, conv)).some((e) => e.type === "tool_result") ? true : undefined,
      );
      await first.close(); // mid-turn: the specialist is still streaming its answer

      await using _second = await startConductor(mesh, {
        roles: createRoleClient(mesh),
        committee: committeeFromConfig(config),
        ackWaitMs: 3000,
      });
      const [reply] = await eventually(
        "the reply",
        async () => {
          const r = await outboxOf(mesh, conv);
          return r.length ? r : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(reply!.text).toMatch(/Pragmatist read the clock: .* \(UTC\)$/);
      const steps = (await logOf(mesh, conv)).map((e) => e.type);
      expect(steps.filter((t) => t === "tool_call")).toHaveLength(1);
      expect(steps.filter((t) => t === "tool_result")).toHaveLength(1);
      expect(steps.filter((t) => t === "specialist_finished")).toHaveLength(1);
    } finally {
      await clock.close();
    }
  });
});
