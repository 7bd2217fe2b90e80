import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { publishInbox } from "../../../mesh/frontdoor.ts";
import { jetstream } from "@nats-io/jetstream";
import type { NatsServer } from "../../harness/nats-server.ts";
import { committeeConfig, runLyra } from "../../harness/committee-fixture.ts";
import { askTurn, logOf, newId, outboxOf, readStream } from "./helpers.ts";
import { DeadLetter, requestMessages, type RoleRequest } from "../../../schemas/index.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { eventually } from "../../harness/eventually.ts";
import { startCommitteeFixture, type CommitteeFixture } from "../../harness/conductor.ts";

let fx: CommitteeFixture;
let server: NatsServer;
let mesh: Mesh;

beforeAll(async () => {
  fx = await startCommitteeFixture({
    config: (natsUrl) => committeeConfig({ natsUrl, hostRoles: ["router", "philosopher", "voice"] }),
    // A step waits for an agent of its role up to stepTimeoutMs: short here, for the test of a role nobody serves.
    conductor: { ackWaitMs: 5000, stepTimeoutMs: 5000 },
  });
  ({ server, mesh } = fx);
});

afterAll(async () => {
  try {
    fx?.assertScriptsUsed(); // every rule of the host's scripts ran in this file's tests
  } finally {
    await fx?.[Symbol.asyncDispose]();
  }
});

describe("the committee end to end (scripted backend)", () => {
  it("routes, answers, voices; the log holds every step; a second turn sees the first", async () => {
    // The test serves the pragmatist itself, to see the prompt it gets.
    const seen: RoleRequest[] = [];
    await using _p = await serveRole(mesh, {
      role: "pragmatist",
      host: "test",
      heartbeatIntervalS: 0,
      async *handler(req) {
        seen.push(req);
        yield { type: "response", data: `Water it when the soil is dry (turn ${seen.length}).` };
        yield {
          type: "final",
          data: { model: "m", backend: "test", host: "test", usage: { prompt_tokens: 0, completion_tokens: 1 }, timings: { total_ms: 1 } },
        };
      },
    });
    const conv = newId("c");
    const r1 = await askTurn(mesh, conv, "How do I keep basil alive?");
    expect(r1.text).toBe("Lyra says: Water it when the soil is dry (turn 1).");
    expect(r1.specialist).toBe("pragmatist");
    const r2 = await askTurn(mesh, conv, "Why does it matter?");
    expect(r2.specialist).toBe("philosopher");
    expect(r2.text).toMatch(/^Lyra says: Philosopher musing on: Why does it matter\?/);
    const r3 = await askTurn(mesh, conv, "And how often exactly?");
    const third = requestMessages(seen[1]!);
    expect(third.map((m) => m.content)).toEqual([
      "How do I keep basil alive?",
      r1.text,
      "Why does it matter?",
      r2.text,
      "And how often exactly?",
    ]);
    expect(r3.text).toContain("turn 2");
    const types = (await logOf(mesh, conv)).map((e) => e.type);
    expect(types.filter((t) => t === "user_message")).toHaveLength(3);
    expect(types.filter((t) => t === "voice_reply")).toHaveLength(3);
    expect(types.slice(0, 5)).toEqual(["user_message", "routed", "specialist_started", "specialist_finished", "voice_reply"]);
  });

  it("an off-schema router answer falls to the default specialist", async () => {
    await using _p = await serveRole(mesh, {
      role: "pragmatist",
      host: "test",
      heartbeatIntervalS: 0,
      async *handler() {
        yield { type: "response", data: "practical." };
      },
    });
    const conv = newId("c");
    const r = await askTurn(mesh, conv, "off-schema please");
    expect(r.specialist).toBe("pragmatist");
    const routed = (await logOf(mesh, conv)).find((e) => e.type === "routed");
    expect(routed).toMatchObject({ specialist: "pragmatist", confidence: 0 });
    expect(String((routed as { reason: string }).reason)).toMatch(/off-schema|unknown specialist/);
  });

  it("no agent serves the chosen specialist, no fallback: the turn waits until its step's deadline; the reply says why", async () => {
    // Nobody serves pragmatist in this file unless a test does.
    const r = await askTurn(mesh, newId("c"), "How do I fix a bike?");
    expect(r.final).toBe(true);
    expect(r.text).toMatch(/^Sorry, I could not answer this time: pragmatist/);
    expect(r.error).toMatch(/no agent served role 'pragmatist' for \d+(\.\d)? s/);
  });

  it("a malformed inbox message is dead-lettered and the conductor keeps going", async () => {
    const js = jetstream(mesh.nc);
    const conv = newId("bad");
    await js.publish(`lyra.inbox.cli.${conv}`, new TextEncoder().encode('{"id": 42, "text": ""}'), { msgID: newId("raw") });
    const dead = await eventually(
      "the dead letter",
      async () => {
        const all = await readStream(mesh, StreamName.Dead, "lyra.dead.cli", DeadLetter);
        return all.find((d) => d.subject === `lyra.inbox.cli.${conv}`);
      },
      { timeoutMs: 15_000 },
    );
    expect(dead.reason).toMatch(/invalid inbox message/);
    expect(Buffer.from(dead.body_b64, "base64").toString()).toBe('{"id": 42, "text": ""}');
    const r = await askTurn(mesh, newId("c"), "Why is the sky blue?");
    expect(r.specialist).toBe("philosopher");
  });

  it("a re-sent inbox message (same platform id) is handled once", async () => {
    const conv = newId("c");
    const id = newId();
    const r = await askTurn(mesh, conv, "Why re-send?", id);
    const again = await publishInbox(mesh, { id, channel: "cli", conversation: conv, user: { id: "tester" }, text: "Why re-send?" });
    expect(again.duplicate).toBe(true);
    expect(r.specialist).toBe("philosopher");
    expect(await outboxOf(mesh, conv)).toHaveLength(1);
  });

  it("lyra ask streams through the mesh and prints the reply", async () => {
    const ask = runLyra(["ask", "--nats", server.url, "Why do cats purr?"]);
    expect(await ask.exited).toBe(0);
    expect(ask.output()).toContain("Lyra: Lyra says: Philosopher musing on: Why do cats purr?");
    expect(ask.output()).toMatch(/\[voice\]/);
    const json = runLyra(["ask", "--nats", server.url, "--json", "Why json?"]);
    expect(await json.exited).toBe(0);
    expect(JSON.parse(json.stdout())).toMatchObject({ final: true, specialist: "philosopher" });
  });
});
