/**
 * A committee served in this process: the config's tool servers (optionally), agent host `local`
 * and a conductor on one connection, as the conductor tests and the CLI test set it up, and a
 * fixture that adds it to a JetStream-enabled mesh fixture.
 */
import type { Mesh } from "../../mesh/connect.ts";
import { startConductor, type Conductor, type ConductorOptions } from "../../mesh/conductor/index.ts";
import { lifecycle, type Closable } from "../../mesh/lifecycle.ts";
import { silentLogger } from "../../mesh/logger.ts";
import { createRoleClient } from "../../mesh/rolecall/client.ts";
import type { MeshConfig } from "../../schemas/config.ts";
import { committeeFromConfig } from "../../agents/host/conductor-options.ts";
import { startAgentHost, type AgentHost } from "../../agents/host/host.ts";
import type { ScriptedBackend } from "../../agents/backends/scripted.ts";
import { startToolHost } from "../../tools/host.ts";
import { buildOnMesh, type MeshFixture } from "./mesh.ts";
import type { NatsServer } from "./nats-server.ts";

export interface CommitteeOptions {
  /** Serves the config's tool servers too, as tool host `tools-1`; default false. */
  tools?: boolean;
  /** The conductor's options besides its role client and committee (such as ackWaitMs); default none. */
  conductor?: Omit<ConductorOptions, "roles" | "committee">;
}

export interface Committee extends Closable {
  readonly host: AgentHost;
  readonly conductor: Conductor;
  /**
   * Throws naming each role (of `roles`, default every one the host serves) whose scripted backend
   * has a rule that never matched: call it once the file's tests ran, naming the roles they all exercise.
   */
  assertScriptsUsed(roles?: readonly string[]): void;
  /** Stops the conductor, then the agent host, then the tool host. */
  close(): Promise<void>;
}

/** Starts the tool host (when asked), agent host `local` and a conductor on `mesh`. */
export async function startCommittee(mesh: Mesh, config: MeshConfig, o: CommitteeOptions = {}): Promise<Committee> {
  const tools = o.tools
    ? await startToolHost(mesh, { tenant: config.mesh.name, host: "tools-1", servers: config.tools.servers, log: silentLogger })
    : undefined;
  const host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  const conductor = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config), ...o.conductor });
  const { close, closed } = lifecycle({
    close: async () => {
      await conductor.close();
      await host.close();
      await tools?.close();
    },
  });
  return { host, conductor, assertScriptsUsed: (roles) => assertScriptsUsed(host, roles), close, closed, [Symbol.asyncDispose]: close };
}

/** The host's scripted backends, by role. */
export function scriptedBackends(host: AgentHost): Map<string, ScriptedBackend> {
  const isScripted = (b: unknown): b is ScriptedBackend => typeof (b as Partial<ScriptedBackend>).assertAllUsed === "function";
  return new Map([...host.backends].filter((e): e is [string, ScriptedBackend] => isScripted(e[1])));
}

function assertScriptsUsed(host: AgentHost, roles?: readonly string[]): void {
  const unused: string[] = [];
  for (const [role, b] of scriptedBackends(host)) {
    if (roles && !roles.includes(role)) continue;
    try {
      b.assertAllUsed();
    } catch (err) {
      unused.push(`role '${role}': ${(err as Error).message}`);
    }
  }
  if (unused.length) throw new Error(unused.join("\n"));
}

export interface CommitteeFixture extends AsyncDisposable {
  readonly server: NatsServer;
  /** The connection the test publishes and reads from; the committee runs on the mesh fixture's other one. */
  readonly mesh: Mesh;
  readonly host: AgentHost;
  readonly conductor: Conductor;
  /** As Committee's: every scripted rule of the host's roles (or of `roles`) matched some request. */
  assertScriptsUsed(roles?: readonly string[]): void;
}

/** A nats-server with JetStream and a committee on it; `config` gets the server's URL. */
export function startCommitteeFixture(o: CommitteeOptions & { config: (natsUrl: string) => MeshConfig }): Promise<CommitteeFixture> {
  return buildOnMesh({ server: { jetstream: true } }, async (fx: MeshFixture) => {
    const c = fx.own(await startCommittee(fx.agent, o.config(fx.server.url), o));
    return {
      server: fx.server,
      mesh: fx.caller,
      host: c.host,
      conductor: c.conductor,
      assertScriptsUsed: (roles) => c.assertScriptsUsed(roles),
      [Symbol.asyncDispose]: () => fx[Symbol.asyncDispose](),
    };
  });
}
