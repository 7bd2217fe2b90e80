/**
 * The set-ups of the agent-host tests as disposable fixtures on the mesh fixture: an in-process
 * agent host on Ollama (and LiteLLM) doubles with a role client, or `lyra agent` child processes
 * with an Ollama double each. One disposal stops everything, the client first and the server last.
 */
import type { Mesh } from "../../../mesh/connect.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { AgentHost } from "../../../agents/host/host.ts";
import { buildOnMesh } from "../../harness/mesh.ts";
import type { NatsServer } from "../../harness/nats-server.ts";
import { runLyra, type CliProcess } from "../../harness/committee-fixture.ts";
import { startOllamaDouble, type OllamaDouble, type OllamaDoubleOptions } from "../../doubles/ollama.ts";
import { startOpenAIDouble, type OpenAIDouble, type OpenAIDoubleOptions } from "../../doubles/openai.ts";
import {
  agentConfig,
  agentYaml,
  childEnv,
  PATIENT,
  startTestAgent,
  writeTempFile,
  type AgentYamlOptions,
  type RoleYaml,
} from "./helpers.ts";

export interface AgentFixtureOptions {
  /** The Ollama double the host's roles use. */
  ollama: OllamaDoubleOptions;
  /** Starts the OpenAI double as LiteLLM, and the config gets a litellm section; default none. */
  litellm?: OpenAIDoubleOptions;
  /** The config but for where NATS, Ollama and LiteLLM are, which the fixture fills in. */
  config: Omit<AgentYamlOptions, "natsUrl" | "ollamaUrl" | "litellmUrl">;
  /** Takes the Ollama double down before the host starts (a host that starts without its backend); default false. */
  ollamaDown?: boolean;
  /** The host's metrics port (0: any free one); default none. */
  metricsPort?: number | null;
  /** Runs nats-server with JetStream (the response cache's KV bucket); default false. */
  jetstream?: boolean;
}

export interface AgentFixture extends AsyncDisposable {
  readonly server: NatsServer;
  /** The connection the client calls from; the host serves on the mesh fixture's other one. */
  readonly mesh: Mesh;
  readonly ollama: OllamaDouble;
  /** The LiteLLM double, when `litellm` was given. */
  readonly litellm: OpenAIDouble | undefined;
  /** The in-process agent host `local`. */
  readonly host: AgentHost;
  /** A role client with the patient defaults of a loaded test machine. */
  readonly client: RoleClient;
}

/** nats-server, the doubles, an in-process agent host on them and a role client. */
export function startAgentFixture(o: AgentFixtureOptions): Promise<AgentFixture> {
  return buildOnMesh(o.jetstream ? { server: { jetstream: true } } : {}, async (fx) => {
    const ollama = fx.own(await startOllamaDouble(o.ollama));
    const litellm = o.litellm ? fx.own(await startOpenAIDouble(o.litellm)) : undefined;
    if (o.ollamaDown) await ollama.down();
    const config = agentConfig({ ...o.config, natsUrl: fx.server.url, ollamaUrl: ollama.url, litellmUrl: litellm?.baseURL });
    const host = fx.own(await startTestAgent(fx.agent, config, { metricsPort: o.metricsPort }));
    const client = fx.own(createRoleClient(fx.caller, PATIENT));
    return { server: fx.server, mesh: fx.caller, ollama, litellm, host, client, [Symbol.asyncDispose]: () => fx[Symbol.asyncDispose]() };
  });
}

export interface AgentProcessesOptions {
  /** Per host: the options of its own Ollama double, and whether it preloads its model (the config's default when unset). */
  hosts: Record<string, { ollama: OllamaDoubleOptions; preload?: boolean }>;
  /** The roles, every one served by every host. */
  roles: Record<string, RoleYaml>;
}

export interface AgentProcesses extends AsyncDisposable {
  readonly server: NatsServer;
  /** The connection the client calls from. */
  readonly mesh: Mesh;
  readonly client: RoleClient;
  /** Each host's Ollama double, by host name. */
  readonly ollama: Record<string, OllamaDouble>;
  /** Each host's `lyra agent` process; the ones still running are SIGKILLed on disposal. */
  readonly agents: Record<string, CliProcess>;
}

/** nats-server, an Ollama double per host, one `lyra agent --host <h>` each (serving when this resolves) and a role client. */
export function startAgentProcesses(o: AgentProcessesOptions): Promise<AgentProcesses> {
  return buildOnMesh({}, async (fx) => {
    const ollama: Record<string, OllamaDouble> = {};
    for (const [h, spec] of Object.entries(o.hosts)) ollama[h] = fx.own(await startOllamaDouble(spec.ollama));
    const hosts = Object.fromEntries(
      Object.entries(o.hosts).map(([h, spec]) => [h, { roles: Object.keys(o.roles), ollama_url: ollama[h]!.url, preload: spec.preload }]),
    );
    const path = writeTempFile(agentYaml({ natsUrl: fx.server.url, roles: o.roles, hosts }));
    const agents: Record<string, CliProcess> = {};
    fx.own({
      async [Symbol.asyncDispose]() {
        for (const p of Object.values(agents)) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill("SIGKILL");
        await Promise.all(Object.values(agents).map((p) => p.exited));
      },
    });
    for (const h of Object.keys(o.hosts)) agents[h] = runLyra(["agent", "--host", h, "--config", path, "--metrics-port", "0"], childEnv());
    await Promise.all(Object.values(agents).map((p) => p.waitFor(/agent host serving/, 30_000)));
    const client = fx.own(createRoleClient(fx.caller, PATIENT));
    return { server: fx.server, mesh: fx.caller, client, ollama, agents, [Symbol.asyncDispose]: () => fx[Symbol.asyncDispose]() };
  });
}
