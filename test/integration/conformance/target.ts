/**
 * What the conformance suite runs against: a real nats-server, the Ollama double for the vision
 * role, and Lyra started as a user starts it (`lyra agent` or `lyra up`, child processes of the
 * real CLI). Heartbeats are captured from before the start (§8.5: subscribe before discovering).
 */
import type { Msg } from "@nats-io/nats-core";
import { stringify } from "yaml";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { runLyra, type CliProcess } from "../../harness/committee-fixture.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { startOllamaDouble, type OllamaDouble } from "../../doubles/ollama.ts";
import { childEnv, writeTempFile } from "../agents/helpers.ts";

export const OWNER = "conformance";
export const VISION_MODEL = "qwen2.5vl:7b";
/** The server's max_payload: smaller than the default so the limit is visibly Lyra's to advertise. */
export const SERVER_MAX_PAYLOAD = 256 * 1024;
/** The slow role's answer: 24 words, 150 ms apart when not streamed, so a few seconds of silence without keep-alives. */
export const SLOW_ANSWER = Array.from({ length: 24 }, (_, i) => `w${i + 1}`).join(" ");
export const ROLES = ["eye", "router", "slow", "voice"] as const;

/** Four roles: a router and a voice (the committee `lyra up` needs), a slow one-slot specialist, a vision specialist. */
export function conformanceYaml(natsUrl: string, ollamaUrl: string): string {
  return stringify({
    mesh: { name: "conf", owner: OWNER },
    nats: { servers: [natsUrl] },
    roles: {
      router: {
        kind: "router",
        backend: "scripted",
        model: "script-router",
        script: [{ json: { specialist: "slow", confidence: 0.9, reason: "conformance" } }],
      },
      // "fail-please" matches no rule: the scripted backend fails, which is a 500 (§9.2).
      voice: {
        kind: "voice",
        backend: "scripted",
        model: "script-voice",
        script: [{ match: "^(?!fail-please)", reply: "Lyra says: {input}" }],
      },
      slow: {
        kind: "specialist",
        backend: "scripted",
        model: "script-slow",
        slots: 1,
        queue: 0,
        script: [{ reply: SLOW_ANSWER, delay_ms: 150 }],
      },
      eye: { kind: "specialist", backend: "ollama", model: VISION_MODEL, vision: true, description: "looks at images" },
    },
    router: { default_specialist: "slow" },
    hosts: { "gpu-1": { ollama_url: ollamaUrl, roles: ["router", "voice", "slow", "eye"] } },
  });
}

export interface Target extends AsyncDisposable {
  /** The caller's connection (a plain NATS client as far as the protocol goes). */
  nc: Mesh["nc"];
  ollama: OllamaDouble;
  /** Every heartbeat seen on agents.hb.*.*.* since before Lyra started. */
  heartbeats: Msg[];
  /** The server's max_payload, bytes. */
  serverMaxPayload: number;
  lyra: CliProcess;
}

export type TargetKind = "lyra agent" | "lyra up";

export async function startTarget(kind: TargetKind): Promise<Target> {
  // `lyra up` runs the conductor, which needs JetStream.
  const server: NatsServer = await startNatsServer({ jetstream: kind === "lyra up", config: `max_payload: ${SERVER_MAX_PAYLOAD}` });
  const mesh = await connectMesh({ servers: server.url });
  const ollama = await startOllamaDouble({
    models: [VISION_MODEL],
    reply: (b) => `I see ${b.messages?.findLast((m) => m.role === "user")?.images?.length ?? 0} image(s)`,
  });
  const heartbeats: Msg[] = [];
  mesh.nc.subscribe("agents.hb.*.*.*", { callback: (_e, m) => void heartbeats.push(m) });
  await mesh.nc.flush();
  const config = writeTempFile(conformanceYaml(server.url, ollama.url));
  const lyra =
    kind === "lyra agent"
      ? runLyra(["agent", "--host", "gpu-1", "--config", config, "--metrics-port", "0"], childEnv())
      : runLyra(["up", "--config", config, "--scripted"], childEnv({ NATS_URL: server.url }));
  await lyra.waitFor(kind === "lyra agent" ? /agent host serving/ : /Ctrl-C stops everything/, 60_000);
  return {
    nc: mesh.nc,
    ollama,
    heartbeats,
    serverMaxPayload: mesh.maxPayload(),
    lyra,
    async [Symbol.asyncDispose]() {
      lyra.proc.kill("SIGTERM");
      await lyra.exited;
      await mesh.close();
      await ollama.close();
      await server[Symbol.asyncDispose]();
    },
  };
}
