/**
 * The conductor through a short agent outage (the agent process killed and restarted, or frozen):
 * within the step's deadline it waits for the roles, so every queued turn gets its real answer and
 * none is "Sorry, I could not answer".
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { publishInbox } from "../../../mesh/frontdoor.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { serveRole } from "../../../mesh/rolecall/index.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { OutboxMessage } from "../../../schemas/index.ts";
import { conductorOptions } from "../../../agents/host/conductor-options.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { committeeConfig, runLyra, writeCommitteeConfig, type CliProcess } from "../../harness/committee-fixture.ts";
import { wordsHandler } from "../../fixtures/scripted.ts";
import { askTurn, logOf, newId } from "./helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await Promise.resolve(cleanup.pop()!()).catch(() => undefined);
});

const CONVERSATIONS = 8;
const PER_CONVERSATION = 3;

async function meshWithConductor(): Promise<{ mesh: Mesh; cfgPath: string }> {
  const server = await startNatsServer();
  cleanup.push(() => server[Symbol.asyncDispose]());
  const mesh = await connectMesh({ servers: server.url });
  cleanup.push(() => mesh.close());
  // ~0.25 s per streamed step, so turns are queued and running when the agent goes.
  const o = { natsUrl: server.url, delayMs: 30 };
  const core = await startConductor(mesh, conductorOptions(committeeConfig(o), mesh, silentLogger));
  cleanup.push(() => core.close());
  return { mesh, cfgPath: writeCommitteeConfig(o) };
}

async function startAgent(cfgPath: string): Promise<CliProcess> {
  const agent = runLyra(["agent", "--host", "local", "--config", cfgPath, "--metrics-port", "0"], { NATS_URL: "", LYRA_ENCODING: "" });
  cleanup.push(() => agent.proc.kill("SIGKILL"));
  await agent.waitFor(/agent host serving/, 30_000);
  return agent;
}

/** Publishes the turns, runs `outage` once the first reply is out, and returns every final reply. */
async function turnsThrough(mesh: Mesh, outage: () => Promise<void>): Promise<OutboxMessage[]> {
  const convs = Array.from({ length: CONVERSATIONS }, () => newId("c"));
  const total = CONVERSATIONS * PER_CONVERSATION;
  const replies: OutboxMessage[] = [];
  let first!: () => void;
  const firstReply = new Promise<void>((r) => (first = r));
  const sub = mesh.nc.subscribe(subjects.outboxStored);
  const collecting = (async () => {
    for await (const m of sub) {
      const o = decodeBody(OutboxMessage, m, "reply");
      if (!convs.includes(o.conversation)) continue;
      replies.push(o);
      first();
      if (replies.length === total) break;
    }
  })();
  await mesh.nc.flush();
  const t0 = Date.now();
  for (let i = 0; i < PER_CONVERSATION; i++) {
    for (const c of convs)
      await publishInbox(mesh, { id: newId(), channel: "cli", conversation: c, user: { id: "t" }, text: `How is step ${i} of ${c}?` });
  }
  await firstReply;
  const before = replies.length;
  await outage();
  await Promise.race([collecting, sleep(90_000).then(() => Promise.reject(new Error(`only ${replies.length} of ${total} replies`)))]);
  console.log(`${total} turns, ${before} answered before the outage: all replied after ${Date.now() - t0} ms`);
  return replies;
}

function expectRealAnswers(replies: OutboxMessage[]) {
  expect(replies).toHaveLength(CONVERSATIONS * PER_CONVERSATION);
  const failed = replies.filter((o) => o.error !== undefined || !o.text.startsWith("Lyra says: Pragmatist answer to: How is step"));
  expect(failed.map((o) => `${o.text} (${o.error})`)).toEqual([]);
}

describe("conductor through an agent outage", () => {
  it("the agent process SIGKILLed and restarted 2 s later: every queued turn gets its real answer, none 'Sorry'", async () => {
    const { mesh, cfgPath } = await meshWithConductor();
    const agent = await startAgent(cfgPath);
    const replies = await turnsThrough(mesh, async () => {
      agent.proc.kill("SIGKILL");
      await agent.exited;
      await sleep(2000);
      await startAgent(cfgPath);
    });
    expectRealAnswers(replies);
  });

  it("the agent process frozen (SIGSTOP) for 8 s: every queued turn gets its real answer, none 'Sorry'", async () => {
    const { mesh, cfgPath } = await meshWithConductor();
    const agent = await startAgent(cfgPath);
    const replies = await turnsThrough(mesh, async () => {
      agent.proc.kill("SIGSTOP");
      await sleep(8000);
      agent.proc.kill("SIGCONT");
    });
    expectRealAnswers(replies);
  });

  it("a role whose fallback alias fails too (LiteLLM down): the turn waits for an agent of the role", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const mesh = await connectMesh({ servers: server.url });
    cleanup.push(() => mesh.close());
    process.env.LYRA_TEST_OUTAGE_LITELLM_KEY = "sk-test";
    const base = committeeConfig({ natsUrl: server.url });
    const config = {
      ...base,
      litellm: { base_url: "http://127.0.0.1:1/v1", api_key_env: "LYRA_TEST_OUTAGE_LITELLM_KEY" },
      roles: { ...base.roles, pragmatist: { ...base.roles.pragmatist!, fallback: "lyra-pragmatist" } },
    };
    const core = await startConductor(mesh, conductorOptions(config, mesh, silentLogger));
    cleanup.push(() => core.close());
    // Router and voice are served from the start; the pragmatist only 1.5 s into the turn.
    for (const role of ["router", "voice"]) {
      const text = role === "router" ? '{"specialist":"pragmatist","confidence":1,"reason":"test"}' : "Voiced.";
      const r = await serveRole(mesh, { role, host: "here", handler: wordsHandler("here", { text }), heartbeatIntervalS: 0 });
      cleanup.push(() => r.close());
    }
    const late = sleep(1500).then(async () => {
      const r = await serveRole(mesh, {
        role: "pragmatist",
        host: "late",
        handler: wordsHandler("late", { text: "Practical." }),
        heartbeatIntervalS: 0,
      });
      cleanup.push(() => r.close());
    });
    const conv = newId("c");
    const reply = await askTurn(mesh, conv, "How do I wait for an agent?");
    await late;
    expect(reply.error).toBeUndefined();
    expect(reply.text).toBe("Voiced.");
    const finished = (await logOf(mesh, conv)).find((e) => e.type === "specialist_finished");
    expect(finished).toMatchObject({ host: "late", text: "Practical." });
  });

  it("past the step's deadline: the turn fails, and the reply and the log say which role no agent served, and for how long", async () => {
    const server = await startNatsServer();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const mesh = await connectMesh({ servers: server.url });
    cleanup.push(() => mesh.close());
    const base = committeeConfig({ natsUrl: server.url });
    const config = { ...base, conductor: { ...base.conductor, step_timeout_ms: 1500 } }; // conductor.step_timeout_ms
    const core = await startConductor(mesh, conductorOptions(config, mesh, silentLogger));
    cleanup.push(() => core.close());
    for (const role of ["router", "voice"]) {
      const text = role === "router" ? '{"specialist":"pragmatist","confidence":1,"reason":"test"}' : "Voiced.";
      const r = await serveRole(mesh, { role, host: "here", handler: wordsHandler("here", { text }), heartbeatIntervalS: 0 });
      cleanup.push(() => r.close());
    }
    const conv = newId("c");
    const reply = await askTurn(mesh, conv, "How long do you wait?");
    expect(reply.text).toMatch(
      /^Sorry, I could not answer this time: pragmatist \(role 'pragmatist': no agent served role 'pragmatist' for 1(\.\d)? s/,
    );
    expect(reply.error).toContain("no responders on lyra.pragmatist");
    const logged = (await logOf(mesh, conv)).find((e) => e.type === "error");
    expect(logged).toMatchObject({ step: "specialist", code: "deadline_exceeded" });
  });
});
