/** `lyra agent` as an operator runs it: wrong host, broken config, SIGTERM with a stream in flight. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { runLyra } from "../../harness/committee.ts";
import { startOllamaDouble, type OllamaDouble } from "../../doubles/ollama.ts";
import { agentYaml, childEnv, MODEL, PATIENT, within, words, writeTempFile } from "./helpers.ts";

let server: NatsServer;
let mesh: Mesh;
let ollama: OllamaDouble;
let configPath: string;

const ANSWER = words(20);

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: server.url });
  ollama = await startOllamaDouble({ models: [MODEL], tokenDelayMs: 100, reply: () => ANSWER });
  configPath = writeTempFile(
    agentYaml({ natsUrl: server.url, ollamaUrl: ollama.url, roles: { voice: {} }, hosts: { "gpu-1": { roles: ["voice"] } } }),
  );
});

afterAll(async () => {
  await mesh?.close();
  await ollama?.close();
  await server?.[Symbol.asyncDispose]();
});

describe("lyra agent: refusals", () => {
  it("--host nosuch exits non-zero, naming the host, the hosts there are, and the fix", async () => {
    // NATS_URL points nowhere: the host is checked before connecting.
    const p = runLyra(
      ["agent", "--host", "nosuch", "--config", configPath, "--metrics-port", "0"],
      childEnv({ NATS_URL: "nats://127.0.0.1:1" }),
    );
    const code = await within(p.exited, 20_000, "lyra agent --host nosuch");
    expect(code).not.toBe(0);
    expect(p.output()).toContain("host 'nosuch' is not in the config's hosts (gpu-1)");
    expect(p.output()).toContain("pass --host with one of them or add hosts.nosuch");
  });

  type Doc = { roles: Record<string, Record<string, unknown>>; hosts: Record<string, { roles: string[] }> };
  const broken: [string, (d: Doc) => void, string[]][] = [
    ["slots: 0", (d) => (d.roles.voice!.slots = 0), ["roles.voice.slots is 0", "set roles.voice.slots to a whole number of at least 1"]],
    [
      "a host serving an undefined role",
      (d) => (d.hosts["gpu-1"]!.roles = ["poet"]),
      ["hosts.gpu-1.roles[0] is 'poet'", "define roles.poet or remove it from this host"],
    ],
    ["a typo'd key", (d) => (d.roles.voice!.slotz = 2), ["roles.voice has unknown key 'slotz'", "remove or correct it"]],
    [
      "a fallback without litellm",
      (d) => (d.roles.voice!.fallback = "lyra-voice"),
      ["roles.voice.fallback is 'lyra-voice' but there is no litellm section", "add litellm.base_url"],
    ],
  ];
  it.each(broken)("a broken config (%s) exits non-zero, printing the field path and the fix", async (_name, breakIt, expected) => {
    const doc = parse(agentYaml({ natsUrl: server.url, ollamaUrl: ollama.url, hosts: { "gpu-1": { roles: ["voice"] } } })) as Doc;
    breakIt(doc);
    const bad = stringify(doc);
    const path = writeTempFile(bad, "broken.yaml");
    const p = runLyra(["agent", "--host", "gpu-1", "--config", path], childEnv());
    const code = await within(p.exited, 20_000, "lyra agent with a broken config");
    expect(code).not.toBe(0);
    expect(p.output()).toContain(path); // which file
    for (const e of expected) expect(p.output()).toContain(e);
    expect(p.output()).not.toMatch(/agent host serving/);
  });
});

describe("lyra agent: SIGTERM", () => {
  it("finishes the stream in flight, then exits 0", async () => {
    const agent = runLyra(["agent", "--host", "gpu-1", "--config", configPath, "--metrics-port", "0"], childEnv());
    try {
      await agent.waitFor(/agent host serving/, 30_000);
      await using client = createRoleClient(mesh, PATIENT);
      const stream = client.stream("voice", "tell me everything");
      let text = "";
      let signalled = false;
      const run = async () => {
        for await (const c of stream) {
          if (c.type !== "response") continue;
          text += typeof c.data === "string" ? c.data : c.data.text;
          if (!signalled) {
            signalled = true;
            agent.proc.kill("SIGTERM");
          }
        }
      };
      await within(run(), 20_000, "the stream in flight");
      const result = await stream.result;
      expect(text).toBe(ANSWER);
      expect(result).toMatchObject({ text: ANSWER, host: "gpu-1", attempts: 1 });
      expect(await within(agent.exited, 15_000, "the agent's exit")).toBe(0);
      expect(agent.output()).toMatch(/shutting down: finishing in-flight work/);
      expect(agent.output()).toMatch(/agent host stopped/);
    } finally {
      if (agent.proc.exitCode === null && agent.proc.signalCode === null) agent.proc.kill("SIGKILL");
    }
  });
});
