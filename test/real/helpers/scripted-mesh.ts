/**
 * A whole mesh as a user starts it, for the tests of outside clients (the `nats` CLI, Synadia's
 * SDK): a real nats-server with JetStream and `lyra up --scripted` (agents with scripted roles,
 * the conductor, the tool host). The roles answer without a model, so these tests are about the
 * clients, not about a model.
 */
import { stringify } from "yaml";
import { runLyra, type CliProcess } from "../../harness/committee-fixture.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { childEnv, writeTempFile } from "../../integration/agents/helpers.ts";

/** mesh.owner of config/mesh.dev.yaml, so the README's subjects (agents.prompt.lyra.dev.voice) hold. */
export const OWNER = "dev";
export const ROLES = ["router", "pragmatist", "philosopher", "voice", "strict"] as const;
/** A specialist that answers only "ping": anything else fails (a 500 error frame). */
export const FAILING_ROLE = "strict";

export function scriptedYaml(natsUrl: string): string {
  const echo = (prefix: string) => [{ match: ".", reply: `${prefix}: {input}` }];
  return stringify({
    mesh: { name: "real-clients", owner: OWNER },
    nats: { servers: [natsUrl] },
    roles: {
      router: {
        kind: "router",
        backend: "scripted",
        model: "script-router",
        script: [{ json: { specialist: "pragmatist", confidence: 0.9, reason: "scripted" } }],
      },
      pragmatist: {
        kind: "specialist",
        backend: "scripted",
        model: "script-pragmatist",
        description: "practical how-to answers",
        script: echo("Draft"),
      },
      philosopher: {
        kind: "specialist",
        backend: "scripted",
        model: "script-philosopher",
        description: "why-questions",
        script: echo("Why"),
      },
      strict: {
        kind: "specialist",
        backend: "scripted",
        model: "script-strict",
        description: "answers only ping",
        script: [{ match: "^ping$", reply: "pong" }],
      },
      voice: { kind: "voice", backend: "scripted", model: "script-voice", script: echo("Lyra says") },
    },
    router: { default_specialist: "pragmatist" },
    hosts: { "gpu-1": { roles: [...ROLES] } },
  });
}

export interface ScriptedMesh extends AsyncDisposable {
  server: NatsServer;
  /** The mesh config file. */
  configFile: string;
  lyra: CliProcess;
}

export async function startScriptedMesh(): Promise<ScriptedMesh> {
  const server = await startNatsServer({ jetstream: true });
  const configFile = writeTempFile(scriptedYaml(server.url));
  const lyra = runLyra(["up", "--config", configFile, "--scripted"], childEnv({ NATS_URL: server.url }));
  try {
    await lyra.waitFor(/Ctrl-C stops everything/, 90_000);
  } catch (err) {
    lyra.proc.kill("SIGTERM");
    await server[Symbol.asyncDispose]();
    throw err;
  }
  return {
    server,
    configFile,
    lyra,
    async [Symbol.asyncDispose]() {
      lyra.proc.kill("SIGTERM");
      await lyra.exited;
      await server[Symbol.asyncDispose]();
    },
  };
}
