/** A tiny MCP server with structured output (object and non-object roots) for `lyra mcp` tests. */
import { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";

export function statsServer(): McpServer {
  const server = new McpServer({ name: "stats", version: "0.0.1" });
  server.registerTool(
    "sum",
    { description: "Adds numbers.", inputSchema: z.object({ xs: z.array(z.number()) }), outputSchema: z.object({ sum: z.number() }) },
    async ({ xs }) => {
      const sum = xs.reduce((a, b) => a + b, 0);
      return { content: [{ type: "text", text: String(sum) }], structuredContent: { sum } };
    },
  );
  server.registerTool(
    "range",
    {
      description: "0..n-1 as a JSON array.",
      inputSchema: z.object({ n: z.number().int().min(0).max(100) }),
      outputSchema: z.array(z.number()),
    },
    async ({ n }) => ({ content: [], structuredContent: Array.from({ length: n }, (_, i) => i) }),
  );
  return server;
}
