import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANNEL } from "../../../agents/frontdoors/openai/index.ts";
import { logOf, newId, readStream } from "../conductor/helpers.ts";
import { OutboxMessage } from "../../../schemas/index.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { KEY2, meshConversation, ROLES, serveFixture, type ServeFixture } from "./serve-helpers.ts";
import { eventually } from "../../harness/eventually.ts";

let f: ServeFixture;
beforeAll(async () => {
  f = await serveFixture();
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

const BASIL = "How do I keep basil alive?";
const BASIL_REPLY = `Lyra says: Pragmatist answer to: ${BASIL}`;

describe("lyra serve with the openai client", () => {
  it("lists the committee and every role as models", async () => {
    const ids = [];
    for await (const m of f.client.models.list()) ids.push(m.id);
    expect(ids).toEqual(["lyra", ...ROLES.map((r) => `lyra/${r}`)]);
    expect((await f.client.models.retrieve("lyra/voice")).owned_by).toBe("lyra");
  });

  it("offers a role found on the mesh but not in the config", async () => {
    await using _extra = await serveRole(f.mesh, {
      role: "storyteller",
      host: "elsewhere",
      heartbeatIntervalS: 0,
      async *handler() {
        yield { type: "response", data: "Once upon a time." };
      },
    });
    // Found at the latest a second after the last look.
    const r = await eventually(
      "lyra/storyteller",
      () =>
        f.client.chat.completions
          .create({ model: "lyra/storyteller", messages: [{ role: "user", content: "a story" }] })
          .catch(() => undefined),
      { timeoutMs: 5000 },
    );
    expect(r.choices[0]!.message.content).toBe("Once upon a time.");
    expect((await f.client.models.retrieve("lyra/storyteller")).id).toBe("lyra/storyteller");
  });

  it("answers a tool-free committee turn (model lyra), not streamed, with usage", async () => {
    const conv = newId("c");
    const { data, response } = await f.client.chat.completions
      .create({ model: "lyra", messages: [{ role: "user", content: BASIL }] }, { headers: { "X-Lyra-Conversation": conv } })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.model).toBe("lyra");
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]!.message).toMatchObject({ role: "assistant", content: BASIL_REPLY });
    expect(data.choices[0]!.finish_reason).toBe("stop");
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    expect(response.headers.get("x-lyra-conversation")).toBe(conv);
    expect(response.headers.get("x-lyra-mesh-conversation")).toBe(meshConversation(conv));
    // It went through the inbox: the conversation log holds the turn, on this front door's channel.
    const log = await logOf(f.mesh, meshConversation(conv));
    expect(log.map((e) => e.type)).toEqual(["user_message", "routed", "specialist_started", "specialist_finished", "voice_reply"]);
    expect(log[0]).toMatchObject({ type: "user_message", channel: CHANNEL, text: BASIL });
  });

  it("streams a committee turn as chat.completion.chunk events with the usage chunk last", async () => {
    const stream = await f.client.chat.completions.create({
      model: "lyra",
      messages: [{ role: "user", content: "Why do we keep plants?" }],
      stream: true,
      stream_options: { include_usage: true },
      user: newId("u"),
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0]!.id)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("Lyra says: Philosopher musing on: Why do we keep plants?");
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + last.usage!.completion_tokens);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it("ends the raw SSE stream with data: [DONE], and sends no usage chunk unless asked", async () => {
    const res = await f.post(
      "/chat/completions",
      JSON.stringify({ model: "lyra", stream: true, messages: [{ role: "user", content: BASIL }], user: newId("u") }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const parsed = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, "")) as { usage?: unknown; choices: unknown[] });
    expect(parsed.every((p) => !("usage" in p) && p.choices.length === 1)).toBe(true);
  });

  it("calls one role directly (lyra/voice), streamed and not, with the role's own usage", async () => {
    const r = await f.client.chat.completions.create({
      model: "lyra/voice",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello there" },
      ],
    });
    expect(r.choices[0]!.message.content).toBe("Lyra says: hello there");
    expect(r.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBe(4);
    const stream = await f.client.chat.completions.create({
      model: "lyra/voice",
      messages: [{ role: "user", content: "hello again" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      usage = c.usage ?? usage;
    }
    expect(text).toBe("Lyra says: hello again");
    expect(usage?.completion_tokens).toBe(4);
  });

  it("does not duplicate a resent history in the log, and a retried request gets the stored reply", async () => {
    const conv = newId("c");
    const opts = { headers: { "X-Lyra-Conversation": conv } };
    const first = await f.client.chat.completions.create({ model: "lyra", messages: [{ role: "user", content: BASIL }] }, opts);
    const a1 = first.choices[0]!.message.content!;
    const history: OpenAI.ChatCompletionMessageParam[] = [
      { role: "system", content: "You are Lyra." },
      { role: "user", content: BASIL },
      { role: "assistant", content: a1 },
      { role: "user", content: "Why does it need sun?" },
    ];
    const second = await f.client.chat.completions.create({ model: "lyra", messages: history }, opts);
    expect(second.choices[0]!.message.content).toBe("Lyra says: Philosopher musing on: Why does it need sun?");
    // The same request again (a client retry): same message id, deduplicated, the stored reply.
    const retry = await f.client.chat.completions.create({ model: "lyra", messages: history, stream: true }, opts);
    let text = "";
    for await (const c of retry) text += c.choices[0]?.delta.content ?? "";
    expect(text).toBe(second.choices[0]!.message.content);
    // And a retry of the first request, now an older turn.
    const again = await f.client.chat.completions.create({ model: "lyra", messages: [{ role: "user", content: BASIL }] }, opts);
    expect(again.id).toBe(first.id);
    expect(again.choices[0]!.message.content).toBe(a1);
    const users = (await logOf(f.mesh, meshConversation(conv)))
      .filter((e) => e.type === "user_message")
      .map((e) => (e as { text: string }).text);
    expect(users).toEqual([BASIL, "Why does it need sun?"]);
    const replies = await readStream(f.mesh, StreamName.Outbox, subjects.outbox(CHANNEL, meshConversation(conv)), OutboxMessage);
    expect(replies).toHaveLength(2);
  });

  it("runs two identical requests sent at once as one turn; text parts are joined", async () => {
    const conv = newId("c");
    const body = {
      model: "lyra",
      messages: [
        {
          role: "user" as const,
          content: [
            { type: "text" as const, text: "How do I " },
            { type: "text" as const, text: "prune basil?" },
          ],
        },
      ],
    };
    const opts = { headers: { "X-Lyra-Conversation": conv } };
    const [a, b] = await Promise.all([
      f.client.chat.completions.create(body, opts),
      f.client.chat.completions.create({ ...body, stream: true }, opts),
    ]);
    let streamed = "";
    for await (const c of b) streamed += c.choices[0]?.delta.content ?? "";
    expect(a.choices[0]!.message.content).toBe("Lyra says: Pragmatist answer to: How do I prune basil?");
    expect(streamed).toBe(a.choices[0]!.message.content);
    expect((await logOf(f.mesh, meshConversation(conv))).filter((e) => e.type === "user_message")).toHaveLength(1);
  });

  it("keeps one conversation for a client that sends neither the header nor user", async () => {
    const opening = [{ role: "user" as const, content: `Hello ${newId()}` }];
    const r1 = await f.client.chat.completions.create({ model: "lyra", messages: opening }).withResponse();
    const conv = r1.response.headers.get("x-lyra-conversation")!;
    const r2 = await f.client.chat.completions
      .create({
        model: "lyra",
        messages: [
          ...opening,
          { role: "assistant", content: r1.data.choices[0]!.message.content! },
          { role: "user", content: "And then?" },
        ],
      })
      .withResponse();
    expect(r2.response.headers.get("x-lyra-conversation")).toBe(conv);
    const users = (await logOf(f.mesh, meshConversation(conv))).filter((e) => e.type === "user_message");
    expect(users).toHaveLength(2);
  });

  it("refuses a wrong key and a missing key with 401", async () => {
    const bad = new OpenAI({ apiKey: "sk-wrong", baseURL: f.serve.url, maxRetries: 0 });
    const err = await bad.chat.completions.create({ model: "lyra", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe("invalid_api_key");
    const none = await fetch(`${f.serve.url}/models`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("missing_api_key");
    // The second key works.
    const other = new OpenAI({ apiKey: KEY2, baseURL: f.serve.url, maxRetries: 0 });
    expect((await other.models.list()).data.map((m) => m.id)).toEqual(expect.arrayContaining(["lyra", ...ROLES.map((r) => `lyra/${r}`)]));
  });

  it("answers an unknown model with 404 model_not_found", async () => {
    for (const model of ["gpt-4o", "lyra/nobody", "lyra/"]) {
      const err = await f.client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
      expect((err as Error).message).toContain(`'${model}' does not exist`);
    }
    await expect(f.client.models.retrieve("lyra/nobody")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("answers a malformed body with 400 in OpenAI's error shape", async () => {
    const err = await f.client.chat.completions.create({ model: "lyra", messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.type).toBe("invalid_request_error");
    expect(e.param).toBe("messages");
    expect(e.message).toContain("at least one message");
  });

  it("counts requests on /metrics by outcome", async () => {
    const res = await fetch(`${f.serve.url.replace(/\/v1$/, "")}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/lyra_frontdoor_requests_total\{door="openai",outcome="ok"\} [1-9]/);
    expect(text).toMatch(/lyra_frontdoor_requests_total\{door="openai",outcome="not_found"\} [1-9]/);
    expect(text).toMatch(/lyra_frontdoor_requests_total\{door="openai",outcome="unauthorized"\} [1-9]/);
    expect(text).toMatch(/lyra_frontdoor_requests_total\{door="openai",outcome="bad_request"\} [1-9]/);
    expect(text).toMatch(/lyra_frontdoor_reply_seconds_count\{door="openai"\} [1-9]/);
    expect(text).toContain("lyra_frontdoor_rate_limited_total");
  });
});
