/**
 * The inbox subject is the authority: NATS authorised the publisher for `lyra.inbox.<channel>.*`,
 * so the channel and conversation come from the subject, never from the body.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import type { Mesh } from "../../../mesh/connect.ts";
import { encodeBody } from "../../../mesh/body.ts";
import { watchReplies } from "../../../mesh/frontdoor.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { DeadLetter, LogEvent, OutboxMessage } from "../../../schemas/index.ts";
import { committeeConfig } from "../../harness/committee-fixture.ts";
import { askTurn, newId, readStream } from "./helpers.ts";
import { eventually } from "../../harness/eventually.ts";
import { startCommitteeFixture, type CommitteeFixture } from "../../harness/conductor.ts";

let fx: CommitteeFixture;
let mesh: Mesh;

beforeAll(async () => {
  fx = await startCommitteeFixture({ config: (natsUrl) => committeeConfig({ natsUrl }), conductor: { ackWaitMs: 5000 } });
  ({ mesh } = fx);
});

afterAll(async () => {
  try {
    fx?.assertScriptsUsed(["pragmatist", "voice"]); // the roles all its tests ask; committee.test.ts runs every rule
  } finally {
    await fx?.[Symbol.asyncDispose]();
  }
});

/** What a process allowed only `lyra.inbox.<channel>.*` can do: any body on its own subject. */
async function publishRaw(channel: string, conversation: string, body: Record<string, unknown>): Promise<void> {
  const { data, headers } = encodeBody(mesh, body);
  await jetstream(mesh.nc).publish(subjects.inbox(channel, conversation), data, { headers, msgID: `${channel}:${String(body.id)}` });
}

const deadOf = async (channel: string, id: string) =>
  eventually(`the dead letter of ${id}`, async () =>
    (await readStream(mesh, StreamName.Dead, subjects.dead(channel), DeadLetter)).find((d) =>
      Buffer.from(d.body_b64, "base64").includes(id),
    ),
  );
const repliesOn = (channel: string, conversation: string) =>
  readStream(mesh, StreamName.Outbox, subjects.outbox(channel, conversation), OutboxMessage);
const logOf = (conversation: string) => readStream(mesh, StreamName.Log, subjects.log(conversation), LogEvent);

describe("the inbox subject is the authority", () => {
  it("a body naming another channel and conversation than its subject is dead-lettered with the reason; nothing reaches them", async () => {
    const victim = `d${Date.now()}`; // a Discord conversation id
    const own = newId("oai");
    const id = newId();
    await publishRaw("openai", own, {
      id,
      channel: "discord",
      conversation: victim,
      user: { id: "intruder" },
      text: "How do I post into Discord?",
    });
    const dead = await deadOf("openai", id);
    expect(dead.subject).toBe(`lyra.inbox.openai.${own}`);
    expect(dead.reason).toMatch(/channel 'discord'.*conversation '.*'.*lyra\.inbox\.openai\./);
    // The refused message is gone from the inbox: a proper one on the same subject is answered.
    const next = newId();
    const watch = watchReplies(mesh, "openai", own, next);
    await publishRaw("openai", own, {
      id: next,
      channel: "openai",
      conversation: own,
      user: { id: "intruder" },
      text: "How do I ask properly?",
    });
    let answered: OutboxMessage | undefined;
    for await (const o of watch) if (o.final) answered = o;
    expect(answered?.text).toBe("Lyra says: Pragmatist answer to: How do I ask properly?");
    expect(await repliesOn("discord", victim)).toEqual([]);
    expect(await logOf(victim)).toEqual([]);
    // The sender is told, on the outbox of the subject it may publish to.
    const told = await repliesOn("openai", own);
    expect(told.map((o) => [o.in_reply_to, o.final, o.conversation])).toEqual([
      [id, true, own],
      [next, true, own],
    ]);
    expect(told[0]!.error).toMatch(/another channel or conversation than the subject/);
  });

  it("a conversation belongs to the channel that started it: another channel's message for it is dead-lettered", async () => {
    const conv = newId("c");
    await askTurn(mesh, conv, "How do I start a conversation on the CLI?");
    const id = newId();
    await publishRaw("openai", conv, {
      id,
      channel: "openai",
      conversation: conv,
      user: { id: "intruder" },
      text: "How do I read the CLI's history?",
    });
    const dead = await deadOf("openai", id);
    expect(dead.reason).toMatch(/conversation '.*' belongs to channel 'cli'/);
    await askTurn(mesh, conv, "How do I carry on?");
    const users = (await logOf(conv)).filter((e) => e.type === "user_message").map((e) => (e as { text: string }).text);
    expect(users).toEqual(["How do I start a conversation on the CLI?", "How do I carry on?"]);
    const told = await repliesOn("openai", conv);
    expect(told.map((o) => o.error)).toEqual([`conversation '${conv}' belongs to another channel; use another conversation id`]);
    expect(told[0]!.text).not.toContain("CLI"); // nothing of the other channel's conversation
  });
});
