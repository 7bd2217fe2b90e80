/** A role's slots and queue: requests past the slots wait, requests past the queue get 429 at once. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { discoverRoles } from "../../../mesh/discovery.ts";
import { BusyError } from "../../../mesh/errors.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { AgentHost } from "../../../agents/host/host.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { startOllamaDouble, type OllamaDouble } from "../../doubles/ollama.ts";
import { agentConfig, drain, MODEL, PATIENT, rejectionOf, startTestAgent, within, words } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let server: NatsServer;
let mesh: Mesh;
let ollama: OllamaDouble;
let host: AgentHost;
let client: RoleClient;

const ANSWER = words(30);

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: server.url });
  // Slow tokens keep the first two requests running while the test looks at the queue.
  ollama = await startOllamaDouble({ models: [MODEL], parallel: 4, tokenDelayMs: 150, reply: () => ANSWER });
  const config = agentConfig({
    natsUrl: server.url,
    ollamaUrl: ollama.url,
    roles: { voice: { slots: 2, queue: 1 } },
    hosts: { local: { roles: ["voice"] } },
  });
  host = await startTestAgent(mesh, config);
  client = createRoleClient(mesh, PATIENT);
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  await mesh?.close();
  await ollama?.close();
  await server?.[Symbol.asyncDispose]();
});

describe("agent host: slots = 2, queue = 1", () => {
  it("a third request queues (queued status, queue_depth 1), a fourth gets 429, and the three all complete", async () => {
    const voice = host.responders.find((r) => r.role === "voice")!;
    const chats = () => ollama.requests.filter((r) => r.path === "/api/chat").length;
    const running = [client.stream("voice", "one"), client.stream("voice", "two")];
    await eventually("two requests running on Ollama", () => voice.inFlight() === 2 && chats() === 2, { timeoutMs: 15_000 });

    const third = client.stream("voice", "three");
    await eventually("the third request to queue", () => voice.queueDepth() === 1, { timeoutMs: 15_000 });
    expect(voice.inFlight()).toBe(2);
    // Ollama has seen only the two running chats (plus the warm-up): the queue is the agent's.
    expect(chats()).toBe(2);

    // The same numbers as `nats micro stats` / `lyra status` show them.
    const found = await discoverRoles(mesh, { timeoutMs: 3000 });
    expect(found.find((f) => f.role === "voice")?.stats.data).toMatchObject({ in_flight: 2, queue_depth: 1 });

    // Slots and queue full: the fourth is refused at once; maxAttempts 1 lets the 429 surface.
    const err = await within(rejectionOf(client.call("voice", "four", { maxAttempts: 1 })), 10_000, "the fourth request");
    expect(err).toBeInstanceOf(BusyError);
    expect((err as BusyError).status).toBe(429);
    expect((err as BusyError).retryAfterS).toBeGreaterThanOrEqual(1);
    expect(err.message).toContain("is busy");

    const results = await within(Promise.all([...running, third].map((s) => drain(s))), 30_000, "the three admitted requests");
    for (const r of results) {
      expect(r.deltas.join("")).toBe(ANSWER);
      expect(r.final?.backend).toBe("ollama");
    }
    // The queued one told its caller it was waiting before it started.
    expect(results[2]!.chunks.some((c) => c.type === "status" && c.data === "queued")).toBe(true);
    expect(voice.queueDepth()).toBe(0);
    expect(voice.inFlight()).toBe(0);
    const codes = await host.metrics.requests.get();
    expect(codes.values).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { role: "voice", code: "200" }, value: 3 }),
        expect.objectContaining({ labels: { role: "voice", code: "429" }, value: 1 }),
      ]),
    );
  });
});
