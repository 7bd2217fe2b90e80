/**
 * Request ids are bound to the request that made them: a reuse with another body or by another
 * caller (another inbox prefix) is refused with 409 request_id_conflict, never answered from the
 * de-duplication cache and never handed a running request's stream. The same caller re-issuing
 * the same request (new reply inbox, new deadline, new attempt) still joins or replays.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { ConflictError } from "../../../mesh/errors.ts";
import { createRoleClient, serveRole, type RoleResult } from "../../../mesh/rolecall/index.ts";
import { Header, REQUEST_ID_CONFLICT } from "../../../schemas/index.ts";
import { ANSWER, wordsHandler } from "../../fixtures/scripted.ts";
import { bodyOf, errorCodeOf, isTerminator, rawExchange } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";

let fx: MeshFixture;
let agent: Mesh;
/** Two callers with their own inbox prefixes, as `lyra auth` gives each NATS user. */
let alice: Mesh;
const ALICE = "_INBOX.alice";
let mallory: Mesh;

async function serve(role: string, opts: { delayMs?: number } = {}) {
  const runs = { count: 0 };
  fx.own(
    await serveRole(agent, { role, host: "h1", heartbeatIntervalS: 0, keepAliveMs: 100, handler: wordsHandler("h1", { runs, ...opts }) }),
  );
  await agent.nc.flush();
  return runs;
}

/** The raw reply stream must be a 409 request_id_conflict without any content: nothing leaked. */
function expectConflict(msgs: Awaited<ReturnType<typeof rawExchange>>, reason: RegExp) {
  expect(errorCodeOf(msgs[0]!)).toBe("409");
  const body = bodyOf(msgs[0]!) as { error: string; message: string };
  expect(body.error).toBe(REQUEST_ID_CONFLICT);
  expect(body.message).toMatch(reason);
  expect(JSON.stringify(msgs.filter((m) => !isTerminator(m)).map(bodyOf))).not.toContain("one two");
  expect(isTerminator(msgs.at(-1)!)).toBe(true);
  expect(msgs).toHaveLength(2);
}

beforeAll(async () => {
  fx = await startMeshFixture();
  agent = fx.agent;
  alice = await fx.connect({ inboxPrefix: ALICE });
  mallory = await fx.connect({ inboxPrefix: "_INBOX.mallory" });
});
afterAll(() => fx?.[Symbol.asyncDispose]());

describe("a completed request id", () => {
  it("reused with another body by the same caller: 409 request_id_conflict, the stored answer is not sent", async () => {
    const runs = await serve("bind-body");
    const client = createRoleClient(alice);
    expect((await client.call("bind-body", "hello", { requestId: "bb-1" })).text).toBe(ANSWER);
    const err = await client.call("bind-body", "something else", { requestId: "bb-1" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).code).toBe(REQUEST_ID_CONFLICT);
    expect((err as ConflictError).message).toMatch(/different request/);
    // Options change the answer too.
    await expect(client.call("bind-body", { prompt: "hello", options: { temperature: 1 } }, { requestId: "bb-1" })).rejects.toBeInstanceOf(
      ConflictError,
    );
    const raw = await rawExchange(alice.nc, "lyra.bind-body", "other", { [Header.RequestId]: "bb-1" }, 5000, ALICE);
    expectConflict(raw, /different request/);
    expect(runs.count).toBe(1);
  });

  it("reused by another caller with the same body: 409, the first caller's answer is not sent", async () => {
    const runs = await serve("bind-caller");
    expect((await createRoleClient(alice).call("bind-caller", "hello", { requestId: "bc-1" })).text).toBe(ANSWER);
    const err = await createRoleClient(mallory)
      .call("bind-caller", "hello", { requestId: "bc-1" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).message).toMatch(/another caller/);
    expect(runs.count).toBe(1);
  });

  it("re-issued by the same caller with the same request (new inbox, deadline, attempt, encoding): replayed, not re-run", async () => {
    const runs = await serve("bind-same");
    const a = await createRoleClient(alice).call("bind-same", "hello", { requestId: "bs-1", timeoutMs: 30_000 });
    // Another client of the same user (a conductor replica taking over a redelivered turn).
    const b = await createRoleClient(alice, { encoding: "json" }).call(
      "bind-same",
      { prompt: "hello" },
      { requestId: "bs-1", timeoutMs: 50_000 },
    );
    expect(b.text).toBe(a.text);
    expect(runs.count).toBe(1);
  });
});

describe("an in-flight request id", () => {
  it("reused with another body: 409 at once; the first caller keeps its whole stream", async () => {
    const runs = await serve("live-body", { delayMs: 40 });
    const first = createRoleClient(alice)
      .call("live-body", "hello", { requestId: "lb-1" })
      .catch((e: unknown) => e);
    await eventually("the first request to start", () => runs.count === 1, { timeoutMs: 5000 });
    const raw = await rawExchange(alice.nc, "lyra.live-body", "other", { [Header.RequestId]: "lb-1", [Header.Stream]: "1" }, 5000, ALICE);
    expectConflict(raw, /different request/);
    const r = (await first) as RoleResult;
    expect(r.text).toBe(ANSWER);
    expect(r.attempts).toBe(1);
    expect(runs.count).toBe(1);
  });

  it("reused by another caller with the same body: 409; the stream stays with the first caller", async () => {
    const runs = await serve("live-caller", { delayMs: 40 });
    const first = createRoleClient(alice)
      .call("live-caller", "hello", { requestId: "lc-1" })
      .catch((e: unknown) => e);
    await eventually("the first request to start", () => runs.count === 1, { timeoutMs: 5000 });
    const err = await createRoleClient(mallory)
      .call("live-caller", "hello", { requestId: "lc-1" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).message).toMatch(/another caller/);
    const r = (await first) as RoleResult;
    expect(r.text).toBe(ANSWER);
    expect(r.attempts).toBe(1);
  });

  it("re-issued by the same caller with a partial answer to resume: joins the live job (no 409, not re-run)", async () => {
    const runs = await serve("live-resume", { delayMs: 40 });
    const first = createRoleClient(alice).call("live-resume", "hello", { requestId: "lr-1" });
    await eventually("the first request to start", () => runs.count === 1, { timeoutMs: 5000 });
    // What a re-issue after a keep-alive gap sends when the replica was only slow.
    const again = await createRoleClient(alice).call("live-resume", { prompt: "hello", resume: { text: "one" } }, { requestId: "lr-1" });
    expect(again.text).toBe(ANSWER);
    expect((await first).text).toBe(ANSWER);
    expect(runs.count).toBe(1);
  });

  it("another caller's request with a partial answer to resume: 409, nothing of the stream leaks", async () => {
    const runs = await serve("live-resume-other", { delayMs: 40 });
    const first = createRoleClient(alice).call("live-resume-other", "hello", { requestId: "lro-1" });
    await eventually("the first request to start", () => runs.count === 1, { timeoutMs: 5000 });
    const raw = await rawExchange(
      mallory.nc,
      "lyra.live-resume-other",
      JSON.stringify({ prompt: "hello", resume: { text: "one" } }),
      { [Header.RequestId]: "lro-1", [Header.Stream]: "1", [Header.ContentType]: "application/json" },
      5000,
      "_INBOX.mallory",
    );
    expectConflict(raw, /another caller/);
    expect((await first).text).toBe(ANSWER);
  });
});
