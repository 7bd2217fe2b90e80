/**
 * Fallback through the real LiteLLM proxy: the voice's own Ollama is stopped, so its call goes to
 * its LiteLLM alias. The proxy's config is what `lyra litellm-config` writes, routed to a second
 * real Ollama (`ollama/<model>` with api_base). The answer is the model's, the log says why, and
 * /metrics counts it. The proxy is started once for the file (it takes seconds) and its process
 * group is ended at the end.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../mesh/connect.ts";
import { createRoleClient } from "../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../mesh/rolecall/types.ts";
import { parseMeshConfig } from "../../schemas/config.ts";
import { startAgentHost, type AgentHost } from "../../agents/host/host.ts";
import { createOpenAIBackend } from "../../agents/backends/openai.ts";
import { BackendAuthError, ModelNotFoundError } from "../../agents/errors.ts";
import { runLyra } from "../harness/committee-fixture.ts";
import { freePort, startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { startLiteLLM, type RealLiteLLM } from "../harness/litellm.ts";
import { CHAT_MODEL, startOllama, type RealOllama } from "../harness/real.ts";

const KEY_ENV = "LYRA_TEST_LITELLM_KEY";
const KEY = "sk-lyra-real-test";
const ALIAS = "lyra-voice";

let server: NatsServer;
let primary: RealOllama;
let upstream: RealOllama;
let litellm: RealLiteLLM;
let mesh: Mesh;
let host: AgentHost;
let client: RoleClient;
const logLines: string[] = [];

/** The mesh config: the voice on its own Ollama, with a LiteLLM alias whose upstream is real. */
function meshYaml(natsUrl: string, ollamaUrl: string, litellmUrl: string, upstreamUrl: string): string {
  return stringify({
    mesh: { name: "real-litellm", owner: "tester" },
    nats: { servers: [natsUrl] },
    roles: { voice: { backend: "ollama", kind: "voice", model: CHAT_MODEL, fallback: ALIAS, max_tokens: 16, slots: 1 } },
    hosts: { local: { ollama_url: ollamaUrl, roles: ["voice"], preload: false } },
    litellm: { base_url: litellmUrl, api_key_env: KEY_ENV, models: { [ALIAS]: { model: `ollama/${CHAT_MODEL}`, api_base: upstreamUrl } } },
  });
}

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  [primary, upstream] = await Promise.all([startOllama(), startOllama()]);
  const dir = mkdtempSync(join(tmpdir(), "lyra-real-litellm-"));
  // The proxy's port is picked before its config exists: the mesh config names it.
  const port = await freePort();
  const yaml = meshYaml(server.url, primary.url, `http://127.0.0.1:${port}/v1`, upstream.url);
  writeFileSync(join(dir, "mesh.yaml"), yaml);
  const gen = runLyra(["litellm-config", "--config", join(dir, "mesh.yaml"), "--out", join(dir, "litellm.yaml")], { [KEY_ENV]: KEY });
  expect(await gen.exited, gen.output()).toBe(0);
  litellm = await startLiteLLM({ configFile: join(dir, "litellm.yaml"), env: { [KEY_ENV]: KEY }, port });
  expect(litellm.baseURL).toBe(`http://127.0.0.1:${port}/v1`);

  process.env[KEY_ENV] = KEY;
  const config = parseMeshConfig(yaml, { source: "real litellm test", env: {} });
  const sink = new Writable({ write: (c: Buffer, _e, done) => (logLines.push(c.toString()), done()) });
  mesh = await connectMesh({ servers: server.url });
  host = await startAgentHost({
    config,
    host: "local",
    mesh,
    log: pino({ level: "warn" }, sink),
    metricsPort: 0,
    healthIntervalMs: 600_000,
    heartbeatIntervalS: 0,
  });
  client = createRoleClient(mesh, { ackWindowMs: 10_000, timeoutMs: 120_000 });
  // The role's own Ollama goes away: every call must now reach LiteLLM.
  await primary.close();
  expect(readFileSync(join(dir, "litellm.yaml"), "utf8")).toContain(`model_name: ${ALIAS}`);
}, 180_000);

afterAll(async () => {
  await client?.close();
  await host?.close();
  await mesh?.close();
  await litellm?.close();
  await Promise.all([primary?.close(), upstream?.close()]);
  await server?.[Symbol.asyncDispose]();
});

describe("fallback through the real LiteLLM proxy", () => {
  it("a role whose Ollama is stopped answers from LiteLLM, with the reason in the log and the metric", async () => {
    const deltas: string[] = [];
    let final: { backend?: string; fallback?: { reason: string; from: string }; usage?: { completion_tokens?: number } } | undefined;
    for await (const c of client.stream("voice", "Name one colour.")) {
      if (c.type === "response") deltas.push(JSON.stringify(c));
      if (c.type === "final") final = c.data;
    }
    expect(deltas.length, "text streamed before the final").toBeGreaterThan(0);
    expect(final?.backend).toBe("openai");
    expect(final?.fallback).toEqual({ reason: "backend_unavailable", from: "ollama" });
    // The usage is the upstream model's, carried through the proxy's usage chunk.
    expect(final?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(final?.usage?.completion_tokens).toBeLessThanOrEqual(16);

    const warn = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "fallback backend answering");
    expect(warn, logLines.join("")).toMatchObject({ role: "voice", reason: "backend_unavailable", fallbackModel: ALIAS });

    const metrics = await fetch(`http://127.0.0.1:${host.metricsPort}/metrics`).then((r) => r.text());
    // At least 1: on a loaded machine the client may re-issue the call, and each attempt falls back.
    expect(metrics).toMatch(/^lyra_role_fallbacks_total\{role="voice",reason="backend_unavailable"\} [1-9]\d*$/m);
  });

  it("the proxy's own refusals are typed: a key that is not its master key, an alias it does not route", async () => {
    const wrong = createOpenAIBackend({ baseURL: litellm.baseURL, apiKey: "sk-not-the-master-key" });
    const auth = await first(wrong.chat({ model: ALIAS, messages: [{ role: "user", content: "hi" }], options: { max_tokens: 8 } }));
    expect(auth).toBeInstanceOf(BackendAuthError);
    expect(auth.message).toContain("LITELLM_API_KEY"); // the variable a key given inline would come from

    const right = createOpenAIBackend({ baseURL: litellm.baseURL, apiKey: KEY });
    const missing = await first(
      right.chat({ model: "no-such-alias", messages: [{ role: "user", content: "hi" }], options: { max_tokens: 8 } }),
    );
    expect(missing).toBeInstanceOf(ModelNotFoundError);
    expect(missing.message).toContain("model alias 'no-such-alias' is not known to LiteLLM");

    expect(await right.health()).toMatchObject({ ok: true, models: [ALIAS] });
  });
});

/** The error a chat ends with (fails the test if it answers). */
async function first(it: AsyncIterable<unknown>): Promise<Error> {
  try {
    for await (const _ of it) {
      // drain
    }
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the chat to fail, but it answered");
}
