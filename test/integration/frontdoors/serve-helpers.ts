/** A mesh (scripted committee, conductor) and `lyra serve` on it, for the serve tests. */
import OpenAI from "openai";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createLogger, silentLogger } from "../../../mesh/logger.ts";
import { startConductor, type Conductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { startAgentHost, type AgentHost } from "../../../agents/host/host.ts";
import { parseKeys, startServe, type ServeOptions, type ServeServer } from "../../../agents/frontdoors/openai/index.ts";
import { keyIdOf } from "../../../agents/frontdoors/openai/access.ts";
import { scoped } from "../../../agents/frontdoors/openai/conversation.ts";
import { startNatsServer, type NatsServer, type NatsServerOptions } from "../../harness/nats-server.ts";
import { committeeConfig, type CommitteeYamlOptions } from "../../harness/committee-fixture.ts";

export const KEY = "sk-test-one";
export const KEY2 = "sk-test-two";
export const ROLES = ["router", "pragmatist", "philosopher", "voice"];

/** The mesh's id (log, outbox) of a conversation a key names `name`: its tenant is its key id. */
export const meshConversation = (name: string, key = KEY) => scoped(keyIdOf(key), name);

export interface ServeFixture extends AsyncDisposable {
  server: NatsServer;
  mesh: Mesh;
  serve: ServeServer;
  client: OpenAI;
  /** Raw fetch against the API (path under /v1), with the key unless headers say otherwise. */
  post(path: string, body: string | null, headers?: Record<string, string>): Promise<Response>;
}

/**
 * nats-server, and on it (unless `committee: false`) an agent host serving the scripted committee
 * and a conductor; then `lyra serve` with two keys. The openai client does not retry.
 */
export async function serveFixture(
  o: { committee?: boolean; yaml?: Partial<CommitteeYamlOptions>; serve?: Partial<ServeOptions>; nats?: NatsServerOptions } = {},
): Promise<ServeFixture> {
  const server = await startNatsServer(o.nats);
  const mesh = await connectMesh({ servers: server.url, name: "serve-test" });
  let host: AgentHost | undefined;
  let core: Conductor | undefined;
  if (o.committee !== false) {
    const config = committeeConfig({ natsUrl: server.url, ...o.yaml });
    host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
    core = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config), ackWaitMs: 5000 });
  }
  const serve = await startServe({
    mesh,
    roles: ROLES,
    keys: parseKeys(`${KEY},${KEY2}`, "LYRA_SERVE_KEYS"),
    port: 0,
    log: process.env.SERVE_TEST_LOG ? createLogger({ level: "debug" }) : silentLogger,
    timeoutMs: 20_000,
    rateLimit: { rpm: 0, burst: 1 },
    ...o.serve,
  });
  const client = new OpenAI({ apiKey: KEY, baseURL: serve.url, maxRetries: 0 });
  return {
    server,
    mesh,
    serve,
    client,
    post: (path, body, headers = {}) =>
      fetch(`${serve.url}${path}`, {
        method: "POST",
        body,
        headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json", ...headers },
      }),
    async [Symbol.asyncDispose]() {
      await serve.close();
      await core?.close();
      await host?.close();
      await mesh.close();
      await server[Symbol.asyncDispose]();
    },
  };
}
