/**
 * `lyra serve` and the response cache (every role of the scripted committee has one): the
 * Lyra-Cache header on role answers, Cache-Control: no-cache, users kept apart by the key's
 * tenant whatever `user` a body names, and the committee's cached steps in the conversation log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogEvent } from "../../../schemas/index.ts";
import { formatEvent } from "../../../agents/cli/commands/log.ts";
import { keyIdOf } from "../../../agents/frontdoors/openai/access.ts";
import { logOf, newId } from "../conductor/helpers.ts";
import { KEY, KEY2, serveFixture, type ServeFixture } from "./serve-helpers.ts";

let f: ServeFixture;
beforeAll(async () => {
  f = await serveFixture({ yaml: { cache: "{ ttl_s: 600 }" } });
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

async function roleCall(content: string, o: { user?: string; key?: string; headers?: Record<string, string> } = {}) {
  const body = JSON.stringify({ model: "lyra/pragmatist", messages: [{ role: "user", content }], ...(o.user ? { user: o.user } : {}) });
  const r = await f.post("/chat/completions", body, { Authorization: `Bearer ${o.key ?? KEY}`, ...o.headers });
  expect(r.status).toBe(200);
  const json = (await r.json()) as { choices: { message: { content: string } }[]; lyra: { cache?: string } };
  return { header: r.headers.get("lyra-cache"), cache: json.lyra.cache, text: json.choices[0]!.message.content };
}

describe("lyra serve with a role's response cache", () => {
  it("a repeated role call says Lyra-Cache: miss, then hit; Cache-Control: no-cache bypasses it", async () => {
    const q = `How do I prune ${newId("q")}?`;
    expect(await roleCall(q, { user: "u1" })).toMatchObject({ header: "miss", cache: "miss" });
    expect(await roleCall(q, { user: "u1" })).toMatchObject({ header: "hit", cache: "exact" });
    expect(await roleCall(q, { user: "u1", headers: { "Cache-Control": "no-cache" } })).toMatchObject({ header: "bypass" });
    // Without a `user`, the key's tenant's default user: cached for it too.
    const anon = `What is mulch ${newId("q")}?`;
    await roleCall(anon);
    expect((await roleCall(anon)).header).toBe("hit");
  });

  it("a streamed role answer from the cache streams, and says so on its finish chunk", async () => {
    const q = `How deep do I plant garlic ${newId("q")}?`;
    await roleCall(q, { user: "u1" });
    const body = JSON.stringify({ model: "lyra/pragmatist", stream: true, user: "u1", messages: [{ role: "user", content: q }] });
    const r = await f.post("/chat/completions", body);
    const events = (await r.text())
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string }; finish_reason: string | null }[]; lyra?: unknown });
    expect(events.map((e) => e.choices[0]?.delta.content ?? "").join("")).toBe((await roleCall(q, { user: "u1" })).text);
    expect(events.find((e) => e.choices[0]?.finish_reason)?.lyra).toEqual({ cache: "exact" });
  });

  it("another key's tenant never gets the answer, even when its body names the first tenant's user", async () => {
    const q = `Which pot for rosemary ${newId("q")}?`;
    await roleCall(q, { user: "u1" });
    expect((await roleCall(q, { user: "u1", key: KEY2 })).header).toBe("miss");
    // The mesh user is always '<tenant>_<user>': a body cannot step outside its tenant.
    expect((await roleCall(q, { user: `${keyIdOf(KEY)}_u1`, key: KEY2 })).header).toBe("miss");
    expect((await roleCall(q, { user: "u1" })).header).toBe("hit");
  });

  it("the committee: a second conversation's same first message is answered by cached steps, shown by lyra log", async () => {
    const text = `How do I keep chives ${newId("q")}?`;
    const turn = async (conversation: string, headers: Record<string, string> = {}) => {
      const r = await f.post(
        "/chat/completions",
        JSON.stringify({ model: "lyra", user: "u2", messages: [{ role: "user", content: text }] }),
        { "X-Lyra-Conversation": conversation, ...headers },
      );
      expect(r.status).toBe(200);
      return logOf(f.mesh, r.headers.get("x-lyra-mesh-conversation")!);
    };
    const steps = (log: LogEvent[]) =>
      log
        .filter((e) => ["routed", "specialist_finished", "voice_reply", "voice_segment"].includes(e.type))
        .map((e) => e as { cache?: string });
    expect(steps(await turn(newId("c"))).every((e) => e.cache === "miss")).toBe(true);
    const second = await turn(newId("c"));
    const cached = steps(second);
    expect(cached.length).toBeGreaterThan(0);
    expect(cached.every((e) => e.cache === "exact")).toBe(true);
    expect(
      second
        .filter((e) => e.type === "specialist_finished")
        .map(formatEvent)
        .join("\n"),
    ).toMatch(/cache hit \(exact\)/);
    const fresh = steps(await turn(newId("c"), { "Cache-Control": "no-cache" }));
    expect(fresh.every((e) => e.cache === "bypass")).toBe(true);
  });
});
