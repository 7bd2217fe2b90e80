/**
 * The JetStream buckets under the generated users, through the code that uses them: a tool host
 * parks a large result in the claim-check Object Store and the agent that called takes (reads,
 * checks, deletes) it; a knowledge server's KV cache writes and reads; the media store is written
 * and read by the processes that handle media, and by no other; the Discord door keeps its state
 * and reads its durable outbox consumer. Each is allowed only its bucket's API, so a call this
 * code makes that the permissions miss fails here.
 */
import { describe, expect, it } from "vitest";
import { openState } from "../../../agents/frontdoors/discord/state.ts";
import { readOutbox } from "../../../agents/frontdoors/discord/outbox.ts";
import type { Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { MEDIA_BUCKET, putMedia, readMedia, statMedia } from "../../../mesh/media.ts";
import { encodeBody } from "../../../mesh/body.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { fakePng } from "../../doubles/openai.ts";
import { putClaim, takeClaim } from "../../../tools/claim.ts";
import { createKvCache } from "../../../tools/cache.ts";
import { jetstream } from "@nats-io/jetstream";
import { ensureStreams, StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { connectAs, generateAuth } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";
import { setRollout, watchRollout } from "../../../mesh/rollout.ts";

const YAML = `
mesh: { name: test, owner: tester }
roles:
  pragmatist: { model: m, backend: scripted, tools: [clock.now], script: [{ reply: p }] }
  philosopher: { model: m, backend: scripted, script: [{ reply: q }] }
  voice: { kind: voice, model: m, backend: scripted, script: [{ reply: v }] }
tools: { servers: { clock: { builtin: clock }, knowledge: { builtin: knowledge } } }
hosts:
  gpu-a: { roles: [pragmatist, voice] }
  gpu-b: { roles: [philosopher] }
`;

/** Specialists and a voice on hosts of their own; the media tool servers. */
const MEDIA_YAML = `
mesh: { name: test, owner: tester }
roles:
  pragmatist: { model: m, backend: scripted, script: [{ reply: p }] }
  perception: { model: m, backend: scripted, vision: true, script: [{ reply: q }] }
  voice: { kind: voice, model: m, backend: scripted, script: [{ reply: v }] }
tools: { servers: { artist: { builtin: artist }, perception: { builtin: perception } } }
hosts:
  gpu-a: { roles: [pragmatist] }
  gpu-p: { roles: [perception] }
  gpu-v: { roles: [voice] }
`;

/** `p`, or a rejection when it has not settled within `ms` (a read the server stalls never ends). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms)),
  );
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe("JetStream buckets under the generated users", () => {
  it("the claim-check store: tools parks a result, the calling agent takes it once, an agent without tools cannot", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using tools = await connectAs(auth, "tools", server.url);
    await using agent = await connectAs(auth, "agent-gpu-a", server.url);
    const body = new Uint8Array(300_000).map((_, i) => i % 251);
    const claim = await putClaim(tools, "test", body);
    // A host whose roles have no tool grants has no business in the claims.
    await using stranger = await connectAs(auth, "agent-gpu-b", server.url);
    await expect(takeClaim(stranger, "test", claim.id, claim.sha256)).rejects.toThrow(/could not be fetched/);
    expect(await takeClaim(agent, "test", claim.id, claim.sha256)).toEqual(body);
    await expect(takeClaim(agent, "test", claim.id, claim.sha256)).rejects.toThrow(/gone|could not be fetched/);
  }, 30_000);

  it("a front door reads its own channel's stored replies through a consumer and a direct get, and not another's", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using core = await connectAs(auth, "core", server.url);
    await ensureStreams(core);
    const js = jetstream(core.nc);
    await js.publish(subjects.outbox("openai", "c1"), "reply for openai");
    await js.publish(subjects.outbox("discord", "c1"), "reply for discord");
    await using serve = await connectAs(auth, "serve", server.url);
    const read = async (channel: string) => {
      const c = await jetstream(serve.nc).consumers.get(StreamName.Outbox, { filter_subjects: subjects.outbox(channel, "c1") });
      const m = await c.next({ expires: 2000 });
      await c.delete().catch(() => undefined);
      return m?.string();
    };
    expect(await read("openai")).toBe("reply for openai");
    await expect(read("discord")).rejects.toThrow(/permission/i);
    // The conversation's last reply, as lyra serve looks a re-sent message's reply up: a direct get.
    const jsm = await jetstreamManager(serve.nc);
    expect((await jsm.direct.getMessage(StreamName.Outbox, { last_by_subj: subjects.outbox("openai", "c1") }))?.string()).toBe(
      "reply for openai",
    );
    await expect(jsm.direct.getMessage(StreamName.Outbox, { last_by_subj: subjects.outbox("discord", "c1") })).rejects.toThrow(
      /permission/i,
    );
  }, 30_000);

  it("the tool result cache: tools writes and reads its KV bucket (tools.cache.bucket)", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using tools = await connectAs(auth, "tools", server.url);
    const warnings: unknown[] = [];
    const log = { ...silentLogger, warn: (...a: unknown[]) => void warnings.push(a) } as typeof silentLogger;
    const cache = createKvCache(tools.nc, { bucket: "LYRA_TOOL_CACHE", maxAgeMs: 86_400_000, log });
    await cache.put("clock.now.public.k1", { content: [] }, 60_000);
    expect((await cache.get("clock.now.public.k1"))?.value).toEqual({ content: [] });
    expect(warnings).toEqual([]);
  }, 30_000);

  it("the rollout weights: the console sets them, the conductor follows them read-only, an agent can do neither", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using core = await connectAs(auth, "core", server.url);
    await using cli = await connectAs(auth, "cli", server.url);
    await using agent = await connectAs(auth, "agent-gpu-a", server.url);
    const variants = [
      { name: "a", weight: 100, shadow: false },
      { name: "b", weight: 0, shadow: false },
    ];
    const problems: unknown[] = [];
    const log = { ...silentLogger, warn: (...a: unknown[]) => void problems.push(a), error: (...a: unknown[]) => void problems.push(a) };
    const rollout = await watchRollout(core, { pragmatist: variants }, log as typeof silentLogger);
    try {
      await setRollout(cli, "pragmatist", variants, { a: 40, b: 60 });
      await eventually("the conductor follows the weights", () => rollout.weights("pragmatist")?.b === 60);
      expect(problems).toEqual([]);
      await expect(setRollout(core, "pragmatist", variants, { a: 0, b: 100 })).rejects.toThrow(/permission|timeout/i);
      await expect(setRollout(agent, "pragmatist", variants, { a: 0, b: 100 })).rejects.toThrow(/permission|timeout/i);
      expect(rollout.weights("pragmatist")).toEqual({ a: 40, b: 60 });
    } finally {
      rollout.close();
    }
  }, 30_000);

  it("the media store: the processes that handle media store and read it (an 8 MiB image too); the others cannot touch it", async () => {
    const auth = await generateAuth(MEDIA_YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using discord = await connectAs(auth, "discord", server.url);
    // Discord's largest accepted image (discord.max_image_bytes): its read needs flow control.
    const big = fakePng("a large user image", 8 * 1024 ** 2);
    const ref = await putMedia(discord, big, { placement: "store" });
    const figures: string[] = [];
    const readAs = async (user: string) => {
      await using me = await connectAs(auth, user, server.url);
      const t = performance.now();
      const back = await within(readMedia(me, ref), 30_000, `${user} reading the 8 MiB image`);
      figures.push(`${user} ${Math.round(performance.now() - t)} ms`);
      return Buffer.from(back).equals(big);
    };
    // The door posts a reply's media, `lyra ask --save` writes it, a vision role's host reads it.
    for (const user of ["discord", "cli", "agent-gpu-p"]) expect(await readAs(user), user).toBe(true);
    process.stdout.write(`8 MiB image read back: ${figures.join(", ")}\n`);
    // The artist and speech tools store, the perception tool checks a reference; a specialist's
    // host stores an inline attachment to give it a reference.
    for (const user of ["tools", "agent-gpu-a", "cli"]) {
      await using me = await connectAs(auth, user, server.url);
      const m = await putMedia(me, fakePng(user, 300_000), { placement: "store" });
      expect((await statMedia(me, m.object!))?.size, user).toBe(300_000);
    }
    const jsm = await jetstreamManager(discord.nc);
    const stored = (await jsm.streams.info(`OBJ_${MEDIA_BUCKET}`)).state.messages;
    // A router or voice never gets media; the conductor and serve never handle any.
    for (const user of ["agent-gpu-v", "core", "serve"]) {
      await using me: Mesh = await connectAs(auth, user, server.url);
      await expect(within(readMedia(me, ref), 30_000, `${user} reading`), user).rejects.toThrow(/permission/i);
      await expect(within(putMedia(me, fakePng(user, 300_000), { placement: "store" }), 30_000, `${user} storing`), user).rejects.toThrow(
        /permission/i,
      );
    }
    expect((await jsm.streams.info(`OBJ_${MEDIA_BUCKET}`)).state.messages).toBe(stored);
  }, 120_000);

  it("the Discord door: its state buckets and its durable outbox consumer, through the adapter's own code", async () => {
    const auth = await generateAuth(YAML);
    await using server = await startNatsServer({ config: auth.conf });
    await using core = await connectAs(auth, "core", server.url);
    await ensureStreams(core);
    await using discord = await connectAs(auth, "discord", server.url);
    const state = await openState(discord, "channel");
    expect(await state.forget("42", "u1")).toBe("d42-1");
    expect(await state.conversation("42", "u1")).toBe("d42-1");
    const posted: string[] = [];
    const reader = await readOutbox(discord, "discord", state, silentLogger, async (o) => (posted.push(o.text), ["m1"]));
    const reply = { conversation: "d42-1", channel: "discord", in_reply_to: "msg-1", text: "hello discord", final: true, ts: Date.now() };
    const { data, headers } = encodeBody(core, reply);
    await jetstream(core.nc).publish(subjects.outbox("discord", "d42-1"), data, { headers });
    expect(await eventually("the reply posted", () => (posted.length ? posted : undefined))).toEqual(["hello discord"]);
    await eventually("the reply remembered as sent", async () => ((await state.wasSent("msg-1")) ? true : undefined));
    const jsm = await jetstreamManager(discord.nc);
    await eventually("the reply acked", async () =>
      (await jsm.consumers.info(StreamName.Outbox, "discord")).num_ack_pending === 0 ? true : undefined,
    );
    await reader.close();
  }, 60_000);
});
