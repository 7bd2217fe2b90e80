/**
 * Constrained tool-call mode on a real model whose template has no tools (smollm2:135m): native
 * `tools` is a 400 there, so the backend asks through a `format` schema; the role's tool loop runs
 * a real tool server over NATS and the answer comes, whatever the tiny model says.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOllamaBackend } from "../../agents/backends/ollama.ts";
import { ModelCapabilityError } from "../../agents/errors.ts";
import { roleHandler } from "../../agents/host/handler.ts";
import { createToolPlane } from "../../agents/host/tools.ts";
import { connectMesh } from "../../mesh/connect.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { RoleConfig, type Chunk } from "../../schemas/index.ts";
import { clockServer, sdkHandler, serveMcp } from "../../tools/index.ts";
import { startNatsServer } from "../harness/nats-server.ts";
import { CHAT_MODEL, startOllama, type RealOllama, PATIENT } from "../harness/real.ts";
import { collect, rejection } from "../integration/backends/collect.ts";

let ollama: RealOllama;
beforeAll(async () => {
  ollama = await startOllama();
});
afterAll(async () => {
  await ollama?.close();
});

// The machine may be shared and slow: a generous first-token limit, never a time assertion.
const TEST_MS = 600_000;
const nowTool = {
  name: "clock__now",
  description: "The current date and time.",
  parameters: { type: "object", properties: { timezone: { type: "string", description: "IANA time zone name" } }, required: ["timezone"] },
};

describe("tools on a real model without tools in its template", () => {
  it("the real server refuses native tools with a 400, which is a ModelCapabilityError naming tool_mode", async () => {
    const backend = createOllamaBackend({ host: ollama.url });
    const err = await rejection(
      collect(
        backend.chat({
          model: CHAT_MODEL,
          messages: [{ role: "user", content: "hi" }],
          tools: [nowTool],
          toolMode: "native",
          options: { max_tokens: 8 },
        }),
      ),
    );
    expect(err).toBeInstanceOf(ModelCapabilityError);
    expect(err.message).toMatch(/does not support tools.*tool_mode: constrained/);
  });

  it(
    "constrained mode: the output names the granted tool with arguments valid for its schema",
    async () => {
      const backend = createOllamaBackend({ host: ollama.url });
      const out = await collect(
        backend.chat(
          {
            model: CHAT_MODEL,
            messages: [
              { role: "system", content: "Call the tool clock__now to learn the time." },
              { role: "user", content: "What time is it in UTC?" },
            ],
            tools: [nowTool],
            options: { max_tokens: 48, temperature: 0, seed: 7 },
          },
          PATIENT,
        ),
      );
      expect(out.final?.type).toBe("final");
      // Whatever it chose, it parsed: a call of the one offered tool with a string timezone, or text.
      for (const c of out.calls) {
        expect(c.name).toBe("clock__now");
        expect(typeof c.arguments.timezone).toBe("string");
      }
      expect(out.calls.length + (out.text.length > 0 ? 1 : 0)).toBeGreaterThan(0);
      console.log(`constrained output: ${out.calls.length ? JSON.stringify(out.calls) : JSON.stringify(out.text)}`);
    },
    TEST_MS,
  );

  it(
    "a role's tool loop runs the real clock tool over NATS and then answers",
    async () => {
      await using server = await startNatsServer();
      await using mesh = await connectMesh({ servers: server.url });
      const clock = await serveMcp(mesh, { server: "clock", tenant: "test", host: "tools-1", handler: sdkHandler(() => clockServer()) });
      const plane = createToolPlane({ mesh, tenant: "test", log: silentLogger });
      try {
        const config = RoleConfig.parse({
          model: CHAT_MODEL,
          backend: "ollama",
          tools: ["clock.now"],
          max_tool_steps: 1,
          max_tokens: 48,
          temperature: 0,
          first_token_timeout_ms: PATIENT.firstTokenTimeoutMs,
          system_prompt: "Always call the tool clock__now first to learn the time, then answer.",
        });
        const handler = roleHandler({
          role: "pragmatist",
          host: "cpu-1",
          config,
          backend: createOllamaBackend({ host: ollama.url }),
          tools: plane,
        });
        const ctx = {
          requestId: "r1",
          deadline: Date.now() + TEST_MS,
          stream: true,
          signal: new AbortController().signal,
          log: silentLogger,
          headers: undefined,
          conversation: undefined,
        };
        const chunks: Chunk[] = [];
        for await (const c of handler({ prompt: "What time is it in UTC?", options: { seed: 7 } }, ctx)) chunks.push(c);
        console.log(`tool loop chunks: ${chunks.map((c) => c.type).join(" ")}`);
        const call = chunks.find((c) => c.type === "tool_call");
        expect(call, "the model's constrained output called the tool").toBeDefined();
        expect(call).toMatchObject({ data: { name: "clock__now", server: "clock", tool: "now" } });
        const result = chunks.find((c) => c.type === "tool_result");
        expect(result).toMatchObject({ data: { name: "clock__now", server: "clock" } });
        const types = chunks.map((c) => c.type);
        expect(types.lastIndexOf("response")).toBeGreaterThan(types.indexOf("tool_result"));
        const answer = chunks
          .filter((c) => c.type === "response" && types.indexOf("tool_result") < chunks.indexOf(c))
          .map((c) => c.data as string)
          .join("");
        expect(answer.trim().length).toBeGreaterThan(0);
        expect(chunks.at(-1)?.type).toBe("final");
      } finally {
        plane.close();
        await clock.close();
      }
    },
    TEST_MS,
  );
});
