/** The tool loop over the OpenAI-compatible backend (the LiteLLM double): ids, tool_call_id, chunks. */
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { RoleConfig, type Chunk } from "../../../schemas/index.ts";
import { createOpenAIBackend } from "../../../agents/backends/index.ts";
import { roleHandler } from "../../../agents/host/handler.ts";
import { createToolPlane, type ToolPlane } from "../../../agents/host/tools.ts";
import { McpServer } from "@modelcontextprotocol/server";
import { clockServer, sdkHandler, serveMcp } from "../../../tools/index.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { startOpenAIDouble, type OpenAIChatBody, type OpenAIDouble } from "../../doubles/openai.ts";

/** Runs the pragmatist's handler on the LiteLLM double, its tools through `plane`, to the end of one prompt. */
async function runPragmatist(llm: OpenAIDouble, plane: ToolPlane, tools: string[], requestId: string, prompt: string): Promise<Chunk[]> {
  const config = RoleConfig.parse({ model: "lyra-fallback", backend: "openai", tools });
  const handler = roleHandler({
    role: "pragmatist",
    host: "gpu-1",
    config,
    backend: createOpenAIBackend({ baseURL: llm.baseURL, apiKey: llm.apiKey }),
    tools: plane,
  });
  const ctx = {
    requestId,
    deadline: Date.now() + 30_000,
    stream: true,
    signal: new AbortController().signal,
    log: silentLogger,
    headers: undefined,
    conversation: undefined,
  };
  const chunks: Chunk[] = [];
  for await (const c of handler({ prompt }, ctx)) chunks.push(c);
  return chunks;
}

describe("the tool loop over the OpenAI-compatible backend", () => {
  it("sends tools, runs the call over NATS, answers the call by tool_call_id, streams the events", async () => {
    await using llm = await startOpenAIDouble({
      reply: (b) => {
        const tool = b.messages.findLast((m) => m.role === "tool");
        return tool ? `It is ${String(tool.content)}` : { tool_calls: [{ name: "clock__now", arguments: { timezone: "UTC" } }] };
      },
    });
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const clock = await serveMcp(mesh, { server: "clock", tenant: "test", host: "tools-1", handler: sdkHandler(() => clockServer()) });
    const plane = createToolPlane({ mesh, tenant: "test", log: silentLogger });
    try {
      const chunks = await runPragmatist(llm, plane, ["clock.now"], "r1", "what time is it?");

      const bodies = llm.requests.filter((r) => r.path === "/v1/chat/completions").map((r) => r.body as OpenAIChatBody);
      expect(bodies.length).toBe(2);
      expect(bodies[0]!.tools?.map((t) => t.function.name)).toEqual(["clock__now"]);
      const [assistant, tool] = bodies[1]!.messages.slice(-2);
      expect(assistant).toMatchObject({
        role: "assistant",
        tool_calls: [{ id: "call_1_0", type: "function", function: { name: "clock__now", arguments: '{"timezone":"UTC"}' } }],
      });
      expect(tool).toMatchObject({ role: "tool", tool_call_id: "call_1_0" });
      expect(String(tool!.content)).toMatch(/\(UTC\)$/);

      expect(chunks.map((c) => c.type)).toEqual(["tool_call", "tool_result", ...chunks.slice(2, -1).map(() => "response"), "final"]);
      expect(chunks[0]).toMatchObject({
        type: "tool_call",
        data: { id: "call_1_0", name: "clock__now", server: "clock", tool: "now", host: "gpu-1", arguments: { timezone: "UTC" } },
      });
      expect(chunks[1]).toMatchObject({
        type: "tool_result",
        data: { id: "call_1_0", status: "ok", is_error: false, server: "clock", tool: "now", host: "gpu-1", content: tool!.content },
      });
      expect((chunks[1] as { data: { latency_ms: number } }).data.latency_ms).toBeGreaterThanOrEqual(0);
      const text = chunks
        .filter((c) => c.type === "response")
        .map((c) => c.data as string)
        .join("");
      expect(text).toBe(`It is ${String(tool!.content)}`);
      expect(chunks.at(-1)).toMatchObject({ type: "final", data: { backend: "openai", host: "gpu-1", role: "pragmatist" } });
    } finally {
      plane.close();
      await clock.close();
    }
  });

  it("a tool name OpenAI would refuse (a dot) is offered model-safe and still reaches its tool", async () => {
    await using llm = await startOpenAIDouble({
      reply: (b) => (b.messages.some((m) => m.role === "tool") ? "done" : { tool_calls: [{ name: "misc__get_time", arguments: {} }] }),
    });
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const misc = () => {
      const s = new McpServer({ name: "misc", version: "0.0.1" });
      s.registerTool("get.time", { description: "a dotted name" }, async () => ({ content: [{ type: "text", text: "teatime" }] }));
      return s;
    };
    const ts = await serveMcp(mesh, { server: "misc", tenant: "test", host: "tools-1", handler: sdkHandler(misc) });
    const plane = createToolPlane({ mesh, tenant: "test", log: silentLogger });
    try {
      const chunks = await runPragmatist(llm, plane, ["misc.*"], "r2", "tea?");
      const first = llm.requests.find((r) => r.path === "/v1/chat/completions")!.body as OpenAIChatBody;
      expect(first.tools?.map((t) => t.function.name)).toEqual(["misc__get_time"]);
      expect(chunks.find((c) => c.type === "tool_call")).toMatchObject({
        data: { name: "misc__get_time", server: "misc", tool: "get.time" },
      });
      expect(chunks.find((c) => c.type === "tool_result")).toMatchObject({
        data: { content: "teatime", status: "ok", server: "misc", tool: "get.time" },
      });
    } finally {
      plane.close();
      await ts.close();
    }
  });
});
