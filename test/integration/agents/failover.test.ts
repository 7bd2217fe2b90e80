/**
 * Two `lyra agent` processes (hosts a and b, each with its own Ollama) serve one role. The one that
 * took a streamed request is SIGKILLed mid-answer: the caller presumes it dead after the keep-alive
 * gap, re-issues the request, and still gets one complete answer, without duplicated text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { FinalInfo } from "../../../schemas/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { runLyra, type CliProcess } from "../../harness/committee.ts";
import { startOllamaDouble, type OllamaDouble } from "../../doubles/ollama.ts";
import { agentYaml, childEnv, MODEL, PATIENT, within, words, writeTempFile } from "./helpers.ts";

let server: NatsServer;
let mesh: Mesh;
let client: RoleClient;
const ollama: Record<string, OllamaDouble> = {};
const agents: Record<string, CliProcess> = {};

const ANSWER = words(25);

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: server.url });
  for (const h of ["a", "b"]) ollama[h] = await startOllamaDouble({ models: [MODEL], tokenDelayMs: 100, reply: () => ANSWER });
  const path = writeTempFile(
    agentYaml({
      natsUrl: server.url,
      roles: { voice: {} },
      hosts: { a: { roles: ["voice"], ollama_url: ollama.a!.url }, b: { roles: ["voice"], ollama_url: ollama.b!.url } },
    }),
  );
  for (const h of ["a", "b"]) agents[h] = runLyra(["agent", "--host", h, "--config", path, "--metrics-port", "0"], childEnv());
  await Promise.all(Object.values(agents).map((p) => p.waitFor(/agent host serving/, 30_000)));
  client = createRoleClient(mesh, PATIENT);
});

afterAll(async () => {
  await client?.close();
  for (const p of Object.values(agents)) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill("SIGKILL");
  await Promise.all(Object.values(agents).map((p) => p.exited));
  await mesh?.close();
  for (const d of Object.values(ollama)) await d.close();
  await server?.[Symbol.asyncDispose]();
});

const chatsOn = (h: string) => ollama[h]!.requests.filter((r) => r.path === "/api/chat").length;

describe("agent processes: one is killed mid-stream", () => {
  it("the caller gets exactly one complete answer, from the other host", async () => {
    // A keep-alive gap of 3 s (the agents send keep-alives every second) marks the killed one dead.
    const stream = client.stream("voice", "a long answer please", { keepAliveGapMs: 3000 });
    const seen: string[] = [];
    let final: FinalInfo | undefined;
    let killed: string | undefined;
    const run = async () => {
      for await (const c of stream) {
        if (c.type === "response") seen.push(typeof c.data === "string" ? c.data : c.data.text);
        if (c.type === "final") final = c.data;
        if (!killed && seen.length === 3) {
          // Whichever host's Ollama is generating is the one that took the request.
          const busy = ["a", "b"].filter((h) => chatsOn(h) > 0);
          expect(busy).toHaveLength(1);
          killed = busy[0]!;
          agents[killed]!.proc.kill("SIGKILL");
        }
      }
    };
    await within(run(), 30_000, "the streamed call");
    const result = await stream.result;

    const survivor = killed === "a" ? "b" : "a";
    expect(killed).toBeDefined();
    expect(await agents[killed!]!.exited).toBeNull(); // killed by the signal
    expect(seen.join("")).toBe(ANSWER); // what the consumer saw: the answer once, no repeats
    expect(result.text).toBe(ANSWER);
    expect(result.attempts).toBe(2);
    expect(result.host).toBe(survivor);
    expect(final).toMatchObject({ host: survivor, backend: "ollama", model: MODEL });
    expect(chatsOn(survivor)).toBe(1);
    // The survivor keeps serving.
    const again = await within(client.call("voice", "once more"), 15_000, "a call to the survivor");
    expect(again).toMatchObject({ text: ANSWER, host: survivor, attempts: 1 });
  });
});
