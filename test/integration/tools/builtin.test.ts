/** Built-in tool servers' lifecycle in the tool host: options, a failed start, shared state, stop. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import type { BuiltinToolServer } from "../../../tools/builtin/index.ts";
import { createMcpClient } from "../../../tools/client.ts";
import { ToolsError } from "../../../tools/errors.ts";
import { startToolHost } from "../../../tools/host.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { mcpRequest } from "./helpers.ts";

let nats: NatsServer;
let mesh: Mesh;
beforeAll(async () => {
  nats = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: nats.url });
});
afterAll(async () => {
  await mesh?.close();
  await nats?.close();
});

describe("built-in tool servers", () => {
  it("get their options at start, share state across requests, are closed at stop; one that cannot start is failed", async () => {
    let closed = 0;
    const builtins: Record<string, BuiltinToolServer> = {
      counter: {
        description: "counts calls",
        start: ({ options }) => {
          const step = typeof options.step === "number" ? options.step : 1;
          let n = 0; // lives as long as the server, not one request
          return {
            create: () => {
              const s = new McpServer({ name: "counter", version: "0.1.0" });
              s.registerTool("next", { description: "the next number", inputSchema: z.object({}) }, async () => ({
                content: [{ type: "text", text: String((n += step)) }],
              }));
              return s;
            },
            close: async () => void closed++,
          };
        },
      },
      broken: {
        description: "never starts",
        start: () => {
          throw new ToolsError("config", "tools.servers.broken.options.path is missing; set it to a writable directory");
        },
      },
    };
    const host = await startToolHost(mesh, {
      tenant: "t",
      host: "h",
      servers: { counter: { builtin: "counter", options: { step: 5 } }, broken: { builtin: "broken" } },
      builtins,
      log: silentLogger,
    });
    const mcp = createMcpClient(mesh, { tenant: "t" });
    const call = (server: string) => mcp.request(server, mcpRequest("tools/call", { name: "next", arguments: {} }));
    const texts = [];
    for (let i = 0; i < 2; i++) {
      const r = await call("counter");
      texts.push("result" in r ? JSON.stringify(r.result.content) : "error");
    }
    expect(texts).toEqual([JSON.stringify([{ type: "text", text: "5" }]), JSON.stringify([{ type: "text", text: "10" }])]);
    const broken = host.servers().find((s) => s.server === "broken")!;
    expect(broken.state).toBe("failed");
    expect(broken.error).toMatch(/options\.path is missing/);
    const r = await call("broken");
    expect("error" in r).toBe(true);
    await mcp.close();
    await host.close();
    expect(closed).toBe(1);
  });
});
