/**
 * End to end: a specialist (Ollama double) calls a mesh tool (the built-in clock, served over NATS
 * in this process), the double's next request carries the `role: tool` result, the answer uses it,
 * and the conversation log holds the call and the result.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";
import { budgetNote } from "../../../agents/host/toolloop.ts";
import { clockServer, sdkHandler, serveMcp, type ToolServer } from "../../../tools/index.ts";
import type { NatsServer } from "../../harness/nats-server.ts";
import { runLyra } from "../../harness/committee-fixture.ts";
import {
  offeredTools,
  startOllamaDouble,
  toolResultsOf,
  type OllamaChatBody,
  type OllamaDouble,
  type OllamaDoubleReply,
  type OllamaToolCall,
  isVoiceChat,
} from "../../doubles/ollama.ts";
import { askTurn, logOf } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";
import type { AgentHost } from "../../../agents/host/host.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { startCommittee } from "../../harness/conductor.ts";

const call = (name: string, args: Record<string, unknown> = {}): OllamaToolCall => ({ function: { name, arguments: args } });
const lastUser = (b: OllamaChatBody) => b.messages?.findLast((m) => m.role === "user")?.content ?? "";
const isVoice = isVoiceChat;

/** The specialists' model: the user message says which tools to call; once results are back it answers with them. */
function specialistModel(b: OllamaChatBody): OllamaDoubleReply {
  const q = lastUser(b);
  const results = toolResultsOf(b);
  if (q.includes("loop forever"))
    return b.tools?.length ? { tool_calls: [call("clock__now", { timezone: "UTC" })] } : `Stopped after ${results.length} results`;
  if (results.length) return `Answer using ${results.map((r) => `[${r.tool_name}: ${r.content}]`).join(" ")}`;
  if (q.includes("time")) return { tool_calls: [call("clock__now", { timezone: "UTC" })] };
  if (q.includes("two clocks"))
    return { tool_calls: [call("clock__now", { timezone: "UTC" }), call("clock__now", { timezone: "Asia/Tokyo" })] };
  if (q.includes("forbidden")) return { tool_calls: [call("clock__wait", { seconds: 1 })] };
  if (q.includes("mars")) return { tool_calls: [call("clock__now", { timezone: "Mars/Olympus_Mons" })] };
  if (q.includes("slow")) return { tool_calls: [call("clock__wait", { seconds: 30 })] };
  if (q.includes("ghost")) return { tool_calls: [call("ghost__boo"), call("nosuchtool")] };
  return `No tools needed for ${q}`;
}

function toolsYaml(natsUrl: string, ollamaUrl: string): string {
  const role = (kind: string, extra = "") => `{ kind: ${kind}, model: qwen3:4b, backend: ollama, slots: 4${extra} }`;
  return `
mesh: { name: test, owner: tester }
nats: { servers: ["${natsUrl}"] }
tools:
  servers:
    clock: { builtin: clock }
    ghost: { builtin: ghost }
roles:
  router: ${role("router")}
  pragmatist: ${role("specialist", ", tools: [clock.now, ghost.*], description: practical")}
  philosopher: ${role("specialist", ", description: why questions")}
  tinkerer: ${role("specialist", ", tools: ['clock.*'], tool_timeout_ms: 300, max_tool_steps: 2, description: tinkering")}
  voice: ${role("voice")}
router: { default_specialist: pragmatist }
hosts:
  local: { ollama_url: ${ollamaUrl}, roles: [router, pragmatist, philosopher, tinkerer, voice] }
conductor: { ack_wait_ms: 5000 }
`;
}

describe("the specialists' tool loop, end to end (Ollama double, clock over NATS)", () => {
  let fx: MeshFixture;
  let nats: NatsServer;
  let mesh: Mesh;
  let ollama: OllamaDouble;
  let clock: ToolServer;
  let host: AgentHost;

  beforeAll(async () => {
    fx = await startMeshFixture({ server: { jetstream: true } });
    ({ server: nats, caller: mesh } = fx);
    ollama = fx.own(
      await startOllamaDouble({
        models: ["qwen3:4b"],
        json: (b) => {
          const q = lastUser(b);
          const specialist = /\bwhy\b/.test(q) ? "philosopher" : /tinker/.test(q) ? "tinkerer" : "pragmatist";
          return { specialist, confidence: 0.9, reason: "the double routes by keyword" };
        },
        reply: (b) => (b.format !== undefined ? "" : isVoice(b) ? `Lyra: ${lastUser(b)}` : specialistModel(b)),
      }),
    );
    clock = fx.own(
      await serveMcp(fx.agent, {
        server: "clock",
        tenant: "test",
        host: "tools-1",
        handler: sdkHandler(() => clockServer()),
        keepAliveMs: 100,
      }),
    );
    const config = parseMeshConfig(toolsYaml(nats.url, ollama.url), { source: "tools test", env: {} });
    ({ host } = fx.own(await startCommittee(fx.agent, config)));
  });
  afterAll(() => fx?.[Symbol.asyncDispose]());

  /** The specialist's /api/chat requests of one turn (not the router's, not the voice's). */
  const specialistChats = (q: string) => ollama.chats().filter((b) => b.format === undefined && !isVoice(b) && lastUser(b) === q);

  it("lyra ask → specialist calls clock.now over NATS → the next request carries the result → lyra log shows both", async () => {
    const q = "what time is it?";
    const ask = runLyra(["ask", "--nats", nats.url, "--conversation", "tools1", q]);
    expect(await ask.exited).toBe(0);

    const chats = specialistChats(q);
    expect(chats.length).toBe(2);
    // Only the granted tool is offered (clock.wait is not granted; ghost lists nothing).
    expect(offeredTools(chats[0]!)).toEqual(["clock__now"]);
    expect(chats[0]!.tools![0]!.function.parameters).toMatchObject({ type: "object", properties: { timezone: { type: "string" } } });
    // Ollama's format: the assistant's tool_calls, then a role "tool" message naming the tool.
    const msgs = chats[1]!.messages!;
    expect(msgs.at(-2)).toMatchObject({
      role: "assistant",
      tool_calls: [{ function: { name: "clock__now", arguments: { timezone: "UTC" } } }],
    });
    expect(msgs.at(-1)).toMatchObject({ role: "tool", tool_name: "clock__now" });
    const result = msgs.at(-1)!.content;
    expect(result).toMatch(/\(UTC\)$/);
    expect(ask.output()).toContain(`Answer using [clock__now: ${result}]`);

    const events = await logOf(mesh, "tools1");
    expect(events.find((e) => e.type === "tool_call")).toMatchObject({
      role: "pragmatist",
      host: "local",
      server: "clock",
      tool: "now",
      arguments: { timezone: "UTC" },
    });
    expect(events.find((e) => e.type === "tool_result")).toMatchObject({
      role: "pragmatist",
      server: "clock",
      tool: "now",
      outcome: result,
      is_error: false,
      status: "ok",
    });
    expect(events.map((e) => e.type)).toEqual([
      "user_message",
      "routed",
      "specialist_started",
      "tool_call",
      "tool_result",
      "specialist_finished",
      "voice_reply",
    ]);

    const log = runLyra(["log", "--nats", nats.url, "tools1"]);
    expect(await log.exited).toBe(0);
    expect(log.stdout()).toContain('tool  pragmatist@local → clock.now {"timezone":"UTC"}');
    expect(log.stdout()).toContain(`← clock.now: ${JSON.stringify(result)} (`);
  });

  it("a role without grants is never offered a tool", async () => {
    const q = "why is there a clock?";
    const reply = await askTurn(mesh, "tools2", q);
    expect(reply.specialist).toBe("philosopher");
    const chats = specialistChats(q);
    expect(chats.length).toBe(1);
    expect(chats[0]!.tools).toBeUndefined();
    // Router and voice are never offered tools either.
    expect(
      ollama
        .chats()
        .filter((b) => b.tools !== undefined)
        .every((b) => b.format === undefined && !isVoice(b)),
    ).toBe(true);
  });

  it("a call to a tool that is not granted is refused, never sent, and the turn completes", async () => {
    const q = "the forbidden clock";
    const sent: string[] = [];
    const tap = mesh.nc.subscribe(subjects.mcpRequest("test", "pragmatist", "clock", "tools/call", "wait"), {
      callback: (_e, m) => void sent.push(m.subject),
    });
    const reply = await askTurn(mesh, "tools3", q);
    tap.unsubscribe();
    expect(sent).toEqual([]);
    const chats = specialistChats(q);
    expect(offeredTools(chats[0]!)).toEqual(["clock__now"]);
    const [res] = toolResultsOf(chats[1]!);
    expect(res!.content).toMatch(/not granted to role 'pragmatist'/);
    expect(reply.text).toContain("Answer using [clock__wait: tool 'clock__wait' is not granted");
    const events = await logOf(mesh, "tools3");
    expect(events.find((e) => e.type === "tool_result")).toMatchObject({
      is_error: true,
      status: "refused",
      server: "clock",
      tool: "wait",
    });
  });

  it("a failing tool, an unknown server and an unknown name become error results; the turn goes on", async () => {
    await askTurn(mesh, "tools4", "what is the hour on mars");
    const [failed] = toolResultsOf(specialistChats("what is the hour on mars")[1]!);
    expect(failed!.content).toMatch(/unknown time zone 'Mars\/Olympus_Mons'/);

    const reply = await askTurn(mesh, "tools5", "call the ghost");
    const results = toolResultsOf(specialistChats("call the ghost")[1]!);
    expect(results.map((r) => r.tool_name)).toEqual(["ghost__boo", "nosuchtool"]);
    expect(results[0]!.content).toMatch(/unavailable.*no tool server 'ghost'/);
    expect(results[1]!.content).toMatch(/there is no tool 'nosuchtool'/);
    expect(reply.text).toContain("Answer using");
    const events = await logOf(mesh, "tools5");
    expect(
      events
        .filter((e) => e.type === "tool_result")
        .map((e) => (e as { status?: string }).status)
        .sort(),
    ).toEqual(["unavailable", "unknown"]);
  });

  it("a tool slower than tool_timeout_ms times out (and is cancelled); the turn goes on", async () => {
    const q = "tinker with something slow";
    const reply = await askTurn(mesh, "tools6", q);
    expect(reply.specialist).toBe("tinkerer");
    const [res] = toolResultsOf(specialistChats(q)[1]!);
    expect(res!.content).toMatch(/timed out after 300 ms/);
    await eventually("the clock server's call to end", () => clock.inFlight() === 0, { timeoutMs: 10_000 });
    expect(clock.inFlight()).toBe(0);
  });

  it("max_tool_steps bounds a model that keeps calling tools: then it answers without tools", async () => {
    const q = "tinker and loop forever";
    const reply = await askTurn(mesh, "tools7", q);
    const chats = specialistChats(q);
    expect(chats.length).toBe(3); // two rounds with tools (max_tool_steps: 2), one without
    expect(chats.map((b) => offeredTools(b).length > 0)).toEqual([true, true, false]);
    expect(chats[2]!.messages!.at(-1)).toMatchObject({ role: "system", content: budgetNote(2) });
    expect(reply.text).toContain("Stopped after 2 results");
  });

  it("two calls in one model message run and both results come back", async () => {
    const q = "read two clocks";
    const reply = await askTurn(mesh, "tools8", q);
    const results = toolResultsOf(specialistChats(q)[1]!);
    expect(results.map((r) => r.tool_name)).toEqual(["clock__now", "clock__now"]);
    expect(results[0]!.content).toMatch(/\(UTC\)$/);
    expect(results[1]!.content).toMatch(/\(Asia\/Tokyo\)$/);
    expect(reply.text).toContain("(Asia/Tokyo)");
    const events = await logOf(mesh, "tools8");
    expect(events.filter((e) => e.type === "tool_call").length).toBe(2);
    expect(events.filter((e) => e.type === "tool_result").length).toBe(2);
    const metrics = await host.metrics.registry.getSingleMetricAsString("lyra_tool_calls_total");
    expect(metrics).toMatch(/lyra_tool_calls_total\{role="pragmatist",server="clock",tool="now",outcome="ok"\} [3-9]/);
    // Refused and unknown calls (earlier tests) are labelled _other: the model's names never become labels.
    expect(metrics).toMatch(/lyra_tool_calls_total\{role="pragmatist",server="_other",tool="_other",outcome="refused"\} [1-9]/);
    expect(metrics).toMatch(/lyra_tool_calls_total\{role="pragmatist",server="_other",tool="_other",outcome="unknown"\} [1-9]/);
    expect(metrics).not.toMatch(/role="pragmatist",server="clock",tool="wait"|tool="(boo|nosuchtool)"/);
  });
});
