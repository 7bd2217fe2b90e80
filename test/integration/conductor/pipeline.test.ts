/**
 * The pipelined voice end to end: the test serves the specialist and the voice itself, to hold
 * the specialist's stream and see each voice call.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import type { RoleHandler } from "../../../mesh/rolecall/types.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { requestMessages, type Chunk, type LogEvent, type OutboxMessage, type RoleRequest } from "../../../schemas/index.ts";
import type { MeshConfig } from "../../../schemas/config.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { startCommitteeFixture, type CommitteeFixture } from "../../harness/conductor.ts";
import { eventually } from "../../harness/eventually.ts";
import { logOf, newId, outboxOf } from "./helpers.ts";

// Paragraphs longer than the default segment_min_chars (80), so each is a segment.
const P = [1, 2, 3].map((n) => `Paragraph ${n} of the draft, long enough to be a segment of its own in the pipelined voice.`);
const DRAFT = `${P[0]}\n\n${P[1]}\n\n${P[2]}`;
const final: Chunk = {
  type: "final",
  data: { model: "m", backend: "test", host: "test", usage: { prompt_tokens: 0, completion_tokens: 1 }, timings: { total_ms: 1 } },
};
const lastUser = (req: RoleRequest) => requestMessages(req).findLast((m) => m.role === "user")?.content ?? "";
/** What the test's voice answers: its input, marked. */
const rewrite = (draftSegment: string) => `V(${draftSegment.trim()})`;

function config(natsUrl: string, pipeline = true): MeshConfig {
  const cfg = committeeConfig({ natsUrl, hostRoles: ["router"] });
  return { ...cfg, conductor: { ...cfg.conductor, pipeline } };
}

/** Serves a role with `handler` on the test's connection. */
const serve = (mesh: Mesh, role: string, handler: RoleHandler) => serveRole(mesh, { role, host: "test", heartbeatIntervalS: 0, handler });

/** A voice that marks what it gets; `onCall` sees each request first (it may throw to fail the call). */
function testVoice(mesh: Mesh, onCall: (req: RoleRequest) => void | Promise<void> = () => undefined) {
  const calls: RoleRequest[] = [];
  const served = serve(mesh, "voice", async function* (req) {
    calls.push(req);
    await onCall(req);
    yield { type: "response", data: "V(" };
    yield { type: "response", data: `${lastUser(req).trim()})` };
    yield final;
  });
  return { calls, served };
}

/** Publishes a turn and collects its partials until the final reply. */
async function turn(mesh: Mesh, conversation: string, text: string, id = newId()) {
  const watch = watchReplies(mesh, "cli", conversation, id);
  await mesh.nc.flush();
  await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: "tester" }, text });
  const partials: OutboxMessage[] = [];
  for await (const o of watch) {
    if (o.final) return { reply: o, partials, text: (step: string) => partials.filter((p) => p.step === step).map((p) => p.text) };
    partials.push(o);
  }
  throw new Error(`no final reply for ${id}`);
}

const segmentsOf = (log: LogEvent[]) => log.filter((e): e is Extract<LogEvent, { type: "voice_segment" }> => e.type === "voice_segment");
/** Waits until the conversation's log holds n voice pieces. */
const piecesLogged = (mesh: Mesh, conversation: string, n: number) =>
  eventually(`${n} voice pieces logged`, async () => segmentsOf(await logOf(mesh, conversation)).length === n || undefined, {
    timeoutMs: 15_000,
  });

describe("the pipelined voice", () => {
  let fx: CommitteeFixture;
  beforeAll(async () => {
    fx = await startCommitteeFixture({ config: (url) => config(url), conductor: { ackWaitMs: 5000, stepTimeoutMs: 5000 } });
  });
  afterAll(() => fx?.[Symbol.asyncDispose]());

  it("starts the voice while the specialist still writes; logs each piece; the reply is the rewrites in order", async () => {
    const conv = newId("c");
    await using _s = await serve(fx.mesh, "pragmatist", async function* () {
      yield { type: "response", data: `${P[0]}\n\n` };
      yield { type: "response", data: P[1]!.slice(0, 10) }; // the next segment's first characters close segment 0
      // The positive signal: the specialist goes on only once the voice has rewritten its first segment.
      await piecesLogged(fx.mesh, conv, 1);
      yield { type: "response", data: `${P[1]!.slice(10)}\n\n${P[2]!.slice(0, 10)}` };
      await piecesLogged(fx.mesh, conv, 2);
      yield { type: "response", data: P[2]!.slice(10) };
      yield final;
    });
    const voice = testVoice(fx.mesh);
    await using _v = await voice.served;
    const t = await turn(fx.mesh, conv, "How do I do three things?");
    expect(t.reply.text).toBe(P.map(rewrite).join("\n\n"));
    expect(t.reply.error).toBeUndefined();
    // The voice was idle when each segment was cut: one call each, with the ones before (draft and rewrite) as context.
    expect(voice.calls.map(lastUser)).toEqual([`${P[0]}\n\n`, `${P[1]}\n\n`, P[2]]);
    expect(
      requestMessages(voice.calls[2]!)
        .slice(-6)
        .map((m) => [m.role, m.role === "system" ? "(the instruction)" : m.content.trim()]),
    ).toEqual([
      ["system", "(the instruction)"],
      ["user", P[0]],
      ["assistant", rewrite(P[0]!)],
      ["user", P[1]],
      ["assistant", rewrite(P[1]!)],
      ["user", P[2]],
    ]);
    // Each rewrite is bounded by its draft's length in tokens.
    expect(voice.calls[0]!.options?.max_tokens).toBe(Math.ceil((P[0]!.length + 2) / 4) + 4);
    // The partials: the specialist's draft and the voice's text, each in order and once.
    expect(t.text("specialist").join("")).toBe(DRAFT);
    expect(t.text("voice").join("")).toBe(t.reply.text);
    const log = await logOf(fx.mesh, conv);
    expect(segmentsOf(log).map((e) => [e.index, e.draft.trim(), e.text])).toEqual(P.map((p, i) => [i, p, rewrite(p)]));
    expect(log.filter((e) => e.type === "voice_reply")).toMatchObject([{ text: t.reply.text, segments: 3 }]);
    expect(log.find((e) => e.type === "specialist_finished")).toMatchObject({ text: DRAFT });
  });

  it("the segments cut while the voice is busy go to its next call as one piece", async () => {
    const conv = newId("c");
    await using _s = await serve(fx.mesh, "pragmatist", async function* () {
      yield { type: "response", data: `${P[0]}\n\n${P[1]!.slice(0, 10)}` };
      yield { type: "response", data: `${P[1]!.slice(10)}\n\n${P[2]}` };
      yield final;
    });
    // The voice's first call ends only once the specialist has finished: segments 1 and 2 wait for it.
    const voice = testVoice(fx.mesh, async (req) => {
      if (!lastUser(req).startsWith("Paragraph 1")) return;
      const finished = async () => (await logOf(fx.mesh, conv)).some((e) => e.type === "specialist_finished") || undefined;
      await eventually("the specialist finished", finished);
    });
    await using _v = await voice.served;
    const t = await turn(fx.mesh, conv, "How do I do three things?");
    const rest = `${P[1]}\n\n${P[2]}`;
    expect(voice.calls.map(lastUser)).toEqual([`${P[0]}\n\n`, rest]);
    expect(voice.calls[1]!.options?.max_tokens).toBe(Math.ceil(rest.length / 4) + 4);
    expect(t.reply.text).toBe(`${rewrite(P[0]!)}\n\n${rewrite(rest)}`);
    const log = await logOf(fx.mesh, conv);
    expect(segmentsOf(log).map((e) => [e.index, e.draft])).toEqual([
      [0, `${P[0]}\n\n`],
      [1, rest],
    ]);
    expect(log.filter((e) => e.type === "voice_reply")).toMatchObject([{ text: t.reply.text, segments: 2 }]);
  });

  it("a tool step resets the segmenter: what the specialist said before it is not voiced", async () => {
    const before = "Let me look that up for you, one moment please while I check the clock on the wall. ";
    await using _s = await serve(fx.mesh, "pragmatist", async function* () {
      yield { type: "response", data: before };
      yield { type: "tool_call", data: { id: "call_0", name: "clock__now", arguments: {} } };
      yield { type: "tool_result", data: { id: "call_0", name: "clock__now", content: "12:00", status: "ok" } };
      yield { type: "response", data: DRAFT };
      yield final;
    });
    const voice = testVoice(fx.mesh);
    await using _v = await voice.served;
    const conv = newId("c");
    const t = await turn(fx.mesh, conv, "What time is it, in three paragraphs?");
    // The voiced pieces are the draft after the tool step, in order (how many depends on the voice's pace).
    const pieces = voice.calls.map(lastUser);
    expect(pieces.join("")).toBe(DRAFT);
    expect(pieces[0]).toBe(`${P[0]}\n\n`);
    expect(t.reply.text).toBe(pieces.map(rewrite).join("\n\n"));
    const log = await logOf(fx.mesh, conv);
    expect(log.find((e) => e.type === "specialist_finished")).toMatchObject({ text: before + DRAFT, voice_from: before.length });
    expect(log.map((e) => e.type).filter((x) => x.startsWith("tool_"))).toEqual(["tool_call", "tool_result"]);
  });

  it("a segment the voice fails is the draft's; the later ones are not sent to the failed voice", async () => {
    const voice = testVoice(fx.mesh, (req) => {
      if (lastUser(req).startsWith("Paragraph 2")) throw new Error("voice model crashed");
    });
    await using _v = await voice.served;
    await using _s = await serve(fx.mesh, "pragmatist", async function* () {
      yield { type: "response", data: DRAFT };
      yield final;
    });
    const conv = newId("c");
    const t = await turn(fx.mesh, conv, "How do I do three things?");
    expect(t.reply.text).toBe(`${rewrite(P[0]!)}\n\n${P[1]}\n\n${P[2]}`);
    expect(t.reply.error).toMatch(/^voice \(/);
    expect(voice.calls).toHaveLength(2);
    const log = await logOf(fx.mesh, conv);
    // The failed piece and any after it are the draft's.
    const backends = segmentsOf(log).map((e) => e.backend);
    expect(backends[0]).toBe("test");
    expect(backends.slice(1)).toEqual(backends.slice(1).map(() => "none (voice failed)"));
    expect(backends.length).toBeGreaterThanOrEqual(2);
    expect(log.filter((e) => e.type === "error")).toMatchObject([{ step: "voice-seg-1" }]);
  });

  /** A conductor of the test's own (the fixture's is stopped by the tests that stop one). */
  const conductor = () =>
    startConductor(fx.mesh, {
      roles: createRoleClient(fx.mesh),
      committee: committeeFromConfig(committeeConfig({ natsUrl: fx.server.url })),
      ackWaitMs: 5000,
    });

  it("a conductor stopped mid-pipeline: the next one reuses the logged segments; log and outbox hold each once", async () => {
    let firstRun = true;
    await using _s = await serve(fx.mesh, "pragmatist", async function* (_req, ctx) {
      if (firstRun) {
        firstRun = false;
        yield { type: "response", data: `${P[0]}\n\n${P[1]}\n\nParagraph 3` };
        // Held until the conductor stops (its cancel, or the deadline, ends the call).
        await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("stopped"))));
      }
      yield { type: "response", data: DRAFT };
      yield final;
    });
    const voice = testVoice(fx.mesh);
    await using _v = await voice.served;
    const conv = newId("c");
    const id = newId();
    const watch = watchReplies(fx.mesh, "cli", conv, id);
    await fx.mesh.nc.flush();
    await publishInbox(fx.mesh, { id, channel: "cli", conversation: conv, user: { id: "tester" }, text: "Three things?" });
    await piecesLogged(fx.mesh, conv, 2);
    await fx.conductor.close();
    await using _c = await conductor();
    let reply: OutboxMessage | undefined;
    for await (const o of watch) {
      if (!o.final) continue;
      reply = o;
      break;
    }
    expect(reply?.text).toBe(P.map(rewrite).join("\n\n"));
    // Pieces 1 and 2 were voiced once; only piece 3 by the second conductor.
    expect(voice.calls.map((c) => lastUser(c).trim())).toEqual(P);
    const log = await logOf(fx.mesh, conv);
    expect(segmentsOf(log).map((e) => e.index)).toEqual([0, 1, 2]);
    expect(log.filter((e) => e.type === "voice_reply")).toHaveLength(1);
    expect(log.filter((e) => e.type === "specialist_finished")).toHaveLength(1);
    expect(await outboxOf(fx.mesh, conv)).toHaveLength(1);
  });

  it("a re-run takes for each logged piece the segments its draft held", async () => {
    const P3 = "Paragraph 4 of the draft, long enough to be a segment of its own in the pipelined voice.";
    let firstRun = true;
    await using _s = await serve(fx.mesh, "pragmatist", async function* (_req, ctx) {
      if (firstRun) {
        firstRun = false;
        yield { type: "response", data: `${P[0]}\n\n${P[1]!.slice(0, 10)}` };
        yield { type: "response", data: `${P[1]!.slice(10)}\n\n${P[2]}\n\n${P3.slice(0, 11)}` };
        await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("stopped"))));
      }
      // All at once: the re-run has four segments pending when it looks for the logged piece 1 (two of them).
      yield { type: "response", data: `${DRAFT}\n\n${P3}\n\nThe end.` };
      yield final;
    });
    const conv = newId("c");
    const id = newId();
    // The voice's first call ends once segments 1 and 2 are cut (the specialist's partial after them is out), so they make one piece.
    let cut!: () => void;
    const segmentsCut = new Promise<void>((r) => (cut = r));
    const voice = testVoice(fx.mesh, (req) => (lastUser(req).startsWith("Paragraph 1") ? segmentsCut : undefined));
    await using _v = await voice.served;
    const watch = watchReplies(fx.mesh, "cli", conv, id);
    const reply = (async () => {
      for await (const o of watch) {
        if (o.final) return o;
        if (o.step === "specialist" && o.text.includes("Paragraph 4")) cut();
      }
    })();
    await fx.mesh.nc.flush();
    {
      await using _first = await conductor();
      await publishInbox(fx.mesh, { id, channel: "cli", conversation: conv, user: { id: "tester" }, text: "Four things?" });
      await piecesLogged(fx.mesh, conv, 2);
    }
    await using _second = await conductor();
    const pieces = [`${P[0]}\n\n`, `${P[1]}\n\n${P[2]}\n\n`, `${P3}\n\n`, "The end."];
    expect((await reply)?.text).toBe(pieces.map(rewrite).join("\n\n"));
    // The second conductor reused the two logged pieces (three segments) and voiced the rest.
    expect(voice.calls.map(lastUser)).toEqual(pieces);
    expect(segmentsOf(await logOf(fx.mesh, conv)).map((e) => e.draft)).toEqual(pieces);
  });
});

describe("pipeline: false", () => {
  let fx: CommitteeFixture;
  beforeAll(async () => {
    fx = await startCommitteeFixture({ config: (url) => config(url, false), conductor: { ackWaitMs: 5000, stepTimeoutMs: 5000 } });
  });
  afterAll(() => fx?.[Symbol.asyncDispose]());

  it("the voice rewrites the whole draft once the specialist is done, as before", async () => {
    await using _s = await serve(fx.mesh, "pragmatist", async function* () {
      yield { type: "response", data: DRAFT };
      yield final;
    });
    const voice = testVoice(fx.mesh);
    await using _v = await voice.served;
    const conv = newId("c");
    const t = await turn(fx.mesh, conv, "How do I do three things?");
    expect(t.reply.text).toBe(rewrite(DRAFT));
    expect(voice.calls.map(lastUser)).toEqual([DRAFT]);
    const types = (await logOf(fx.mesh, conv)).map((e) => e.type);
    expect(types).toEqual(["user_message", "routed", "specialist_started", "specialist_finished", "voice_reply"]);
  });
});
