/** A role no agent serves is answered by the conductor through that role's LiteLLM alias. */
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { startAgentHost } from "../../../agents/host/host.ts";
import { conductorOptions } from "../../../agents/host/conductor-options.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { startOpenAIDouble } from "../../doubles/openai.ts";
import { askTurn, logOf, newId } from "./helpers.ts";

const KEY_ENV = "LYRA_TEST_CONDUCTOR_LITELLM_KEY";

describe("conductor fallback", () => {
  it("no agent serves the philosopher: its LiteLLM alias answers, and the log says so", async () => {
    await using litellm = await startOpenAIDouble({ models: ["lyra-philosopher"], reply: () => "A cloud musing." });
    process.env[KEY_ENV] = "sk-test";
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const base = committeeConfig({ natsUrl: server.url, hostRoles: ["router", "pragmatist", "voice"] });
    const config = {
      ...base,
      litellm: { base_url: litellm.baseURL, api_key_env: KEY_ENV },
      roles: { ...base.roles, philosopher: { ...base.roles.philosopher!, fallback: "lyra-philosopher" } },
    };
    await using _host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
    await using _core = await startConductor(mesh, conductorOptions(config, mesh, silentLogger));

    const conv = newId("c");
    const r = await askTurn(mesh, conv, "Why is there something rather than nothing?");
    expect(r.specialist).toBe("philosopher");
    expect(r.text).toBe("Lyra says: A cloud musing.");
    expect(r.error).toBeUndefined();
    const log = await logOf(mesh, conv);
    expect(log.find((e) => e.type === "fallback_used")).toMatchObject({ role: "philosopher", backend: "openai" });
    expect(log.find((e) => e.type === "specialist_finished")).toMatchObject({
      backend: "openai",
      model: "lyra-philosopher",
      host: "litellm",
    });
  });
});
