/** The whole committee over the Ollama backend, against the Ollama double. */
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { startAgentHost } from "../../../agents/host/host.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { committeeConfig, runLyra } from "../../harness/committee-fixture.ts";
import { startOllamaDouble } from "../../doubles/ollama.ts";
import { logOf } from "./helpers.ts";

describe("the committee over Ollama (double)", () => {
  it("lyra ask goes router → specialist → voice through Ollama's /api/chat", async () => {
    await using ollama = await startOllamaDouble({
      models: ["qwen3:4b"],
      json: () => ({ specialist: "philosopher", confidence: 0.7, reason: "the double thinks so" }),
      reply: (b) => {
        const system =
          b.messages
            ?.filter((m) => m.role === "system")
            .map((m) => m.content)
            .join(" ") ?? "";
        const last = b.messages?.findLast((m) => m.role === "user")?.content ?? "";
        return system.includes("in Lyra's voice") ? `Lyra, warmly: ${last}` : `Considered answer to ${last}`;
      },
    });
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const config = committeeConfig({ natsUrl: server.url, backend: "ollama", ollamaUrl: ollama.url });
    await using _host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
    await using _core = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config) });

    const ask = runLyra(["ask", "--nats", server.url, "--conversation", "olla1", "Is a hot dog a sandwich?"]);
    expect(await ask.exited).toBe(0);
    expect(ask.output()).toContain("Lyra: Lyra, warmly: Considered answer to Is a hot dog a sandwich?");

    const log = await logOf(mesh, "olla1");
    const routed = log.find((e) => e.type === "routed");
    expect(routed).toMatchObject({ specialist: "philosopher", backend: "ollama", model: "qwen3:4b" });
    expect(log.find((e) => e.type === "voice_reply")).toMatchObject({ backend: "ollama" });
    const chats = ollama.requests.filter((r) => r.path === "/api/chat");
    expect(chats.length).toBe(3);
    // The router asked for schema-constrained output.
    expect((chats[0]!.body as { format?: { properties?: object } }).format?.properties).toHaveProperty("specialist");
  });
});
