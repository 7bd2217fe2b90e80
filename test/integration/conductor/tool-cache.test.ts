/**
 * The tool-result cache end to end: a scripted specialist's tool round in two conversations; the
 * tool marks its result cacheable, so the second turn is answered by the tool host's cache and
 * its `tool_result` log event says so.
 */
import { McpServer } from "@modelcontextprotocol/server";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { startAgentHost } from "../../../agents/host/host.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { connectMesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import type { BuiltinToolServer } from "../../../tools/builtin/index.ts";
import { startToolHost } from "../../../tools/host.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { askTurn, logOf } from "./helpers.ts";

describe("a specialist's tool call answered from the tool host's cache", () => {
  it("is logged with cached: true, and the tool runs once for two turns", async () => {
    let runs = 0;
    // A clock whose `now` says its answer holds for a minute, for everyone.
    const builtins: Record<string, BuiltinToolServer> = {
      clock: {
        description: "a slow-moving clock",
        start: () => ({
          create: () => {
            const s = new McpServer({ name: "clock", version: "0.1.0" });
            s.registerTool("now", { description: "the time", inputSchema: z.object({ timezone: z.string().optional() }) }, async () => {
              runs++;
              return { content: [{ type: "text", text: "noon (UTC)" }], ttlMs: 60_000, cacheScope: "public" };
            });
            return s;
          },
        }),
      },
    };
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const config = committeeConfig({ natsUrl: server.url, clock: true });
    await using _tools = await startToolHost(mesh, {
      tenant: config.mesh.name,
      host: "tools-1",
      servers: config.tools.servers,
      cache: config.tools.cache,
      builtins,
      log: silentLogger,
    });
    await using _host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
    await using _core = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config) });

    for (const conversation of ["cache-1", "cache-2"]) {
      const reply = await askTurn(mesh, conversation, "what time is it?");
      expect(reply.text).toMatch(/read the clock: noon \(UTC\)/);
    }
    const results = await Promise.all(
      ["cache-1", "cache-2"].map(async (c) => (await logOf(mesh, c)).find((e) => e.type === "tool_result")),
    );
    expect(results[0]).toMatchObject({ server: "clock", tool: "now", status: "ok" });
    expect(results[0]).not.toHaveProperty("cached");
    expect(results[1]).toMatchObject({ server: "clock", tool: "now", status: "ok", cached: true });
    expect(runs).toBe(1);
  });
});
