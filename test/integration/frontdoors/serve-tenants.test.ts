/** `lyra serve`: a key's conversations are its own, whatever names two clients choose. */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logOf, newId } from "../conductor/helpers.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { RoleRequest } from "../../../schemas/index.ts";
import { keyIdOf } from "../../../agents/frontdoors/openai/access.ts";
import { parseKeys, startServe } from "../../../agents/frontdoors/openai/index.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { KEY, KEY2, ROLES, serveFixture, type ServeFixture } from "./serve-helpers.ts";

let f: ServeFixture;
beforeAll(async () => {
  f = await serveFixture();
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

/** Every request body that reaches the pragmatist (its queue subject and its instances'), as text. */
function tapPragmatist(): { bodies: string[]; stop(): void } {
  const bodies: string[] = [];
  const subs = [subjects.role("pragmatist"), `${subjects.role("pragmatist")}.>`].map((s) =>
    f.mesh.nc.subscribe(s, { callback: (_e, m) => void bodies.push(new TextDecoder().decode(m.data)) }),
  );
  return { bodies, stop: () => subs.forEach((s) => s.unsubscribe()) };
}

/** The conversation id in the mesh (what `lyra log` takes) that a committee response names. */
const meshConversation = (r: { response: Response }) =>
  r.response.headers.get("x-lyra-mesh-conversation") ?? r.response.headers.get("x-lyra-conversation")!;

describe("lyra serve keeps each key's conversations apart", () => {
  it("two keys with the same X-Lyra-Conversation: B's turn carries none of A's words, A's log none of B's", async () => {
    const shared = newId("c");
    const a = f.client;
    const b = new OpenAI({ apiKey: KEY2, baseURL: f.serve.url, maxRetries: 0 });
    const opts = { headers: { "X-Lyra-Conversation": shared } };
    const A_WORDS = "How do I keep my secret basil alive?";
    const B_WORDS = "How do I water ferns?";
    const ra = await a.chat.completions.create({ model: "lyra", messages: [{ role: "user", content: A_WORDS }] }, opts).withResponse();
    const tap = tapPragmatist();
    await f.mesh.nc.flush();
    const rb = await b.chat.completions.create({ model: "lyra", messages: [{ role: "user", content: B_WORDS }] }, opts).withResponse();
    tap.stop();
    expect(rb.data.choices[0]!.message.content).toBe(`Lyra says: Pragmatist answer to: ${B_WORDS}`);
    // The client's own name comes back, so it can send it again.
    expect(ra.response.headers.get("x-lyra-conversation")).toBe(shared);
    expect(rb.response.headers.get("x-lyra-conversation")).toBe(shared);
    expect(tap.bodies.length).toBeGreaterThan(0);
    expect(tap.bodies.some((t) => t.includes(B_WORDS))).toBe(true);
    expect(tap.bodies.filter((t) => t.includes("secret basil"))).toEqual([]);
    const logA = await logOf(f.mesh, meshConversation(ra));
    expect(logA.filter((e) => e.type === "user_message").map((e) => (e as { text: string }).text)).toEqual([A_WORDS]);
    expect(JSON.stringify(logA)).not.toContain("ferns");
    const logB = await logOf(f.mesh, meshConversation(rb));
    expect(JSON.stringify(logB)).not.toContain("secret basil");
  });

  it("the same words under the same name from two keys are two turns, not one de-duplicated reply", async () => {
    const shared = newId("c");
    const b = new OpenAI({ apiKey: KEY2, baseURL: f.serve.url, maxRetries: 0 });
    const body = { model: "lyra", messages: [{ role: "user" as const, content: "How do I repot basil?" }] };
    const ra = await f.client.chat.completions.create(body, { headers: { "X-Lyra-Conversation": shared } }).withResponse();
    const rb = await b.chat.completions.create(body, { headers: { "X-Lyra-Conversation": shared } }).withResponse();
    // Same message id would mean B was handed A's stored reply (and its turn never ran for B).
    expect(rb.data.id).not.toBe(ra.data.id);
    expect(meshConversation(rb)).not.toBe(meshConversation(ra));
    expect((await logOf(f.mesh, meshConversation(ra))).filter((e) => e.type === "user_message")).toHaveLength(1);
    expect((await logOf(f.mesh, meshConversation(rb))).filter((e) => e.type === "user_message")).toHaveLength(1);
  });

  it("the same `user` and conversation name from two keys are two users and two conversations on the role path too", async () => {
    const user = newId("u");
    const b = new OpenAI({ apiKey: KEY2, baseURL: f.serve.url, maxRetries: 0 });
    const seen: RoleRequest[] = [];
    const subs = [subjects.role("voice"), `${subjects.role("voice")}.>`].map((s) =>
      f.mesh.nc.subscribe(s, { callback: (_e, m) => void seen.push(decodeBody(RoleRequest, m, "role request")) }),
    );
    await f.mesh.nc.flush();
    const ask = { model: "lyra/voice", messages: [{ role: "user" as const, content: "hello" }], user };
    await f.client.chat.completions.create(ask, { headers: { "X-Lyra-Conversation": "same-name" } });
    await b.chat.completions.create(ask, { headers: { "X-Lyra-Conversation": "same-name" } });
    subs.forEach((s) => s.unsubscribe());
    // The memory server keeps memories per user: B must not reach A's.
    expect(seen.map((r) => [r.conversation, r.user])).toEqual([
      [`${keyIdOf(KEY)}_same-name`, `${keyIdOf(KEY)}_${user}`],
      [`${keyIdOf(KEY2)}_same-name`, `${keyIdOf(KEY2)}_${user}`],
    ]);
  });

  it("keys that serve.tenants maps to one tenant share its conversations (a rotated key keeps them)", async () => {
    const OLD = "sk-old-key";
    const NEW = "sk-new-key";
    await using serve = await startServe({
      mesh: f.mesh,
      roles: ROLES,
      keys: parseKeys(`${OLD},${NEW}`, "K", { acme: [keyIdOf(OLD), keyIdOf(NEW)] }),
      port: 0,
      log: silentLogger,
      rateLimit: { rpm: 0, burst: 1 },
    });
    const conv = newId("c");
    const opts = { headers: { "X-Lyra-Conversation": conv } };
    const before = new OpenAI({ apiKey: OLD, baseURL: serve.url, maxRetries: 0 });
    const after = new OpenAI({ apiKey: NEW, baseURL: serve.url, maxRetries: 0 });
    const r1 = await before.chat.completions
      .create({ model: "lyra", messages: [{ role: "user", content: "How do I keep basil alive?" }] }, opts)
      .withResponse();
    expect(meshConversation(r1)).toBe(`acme_${conv}`);
    await after.chat.completions.create({ model: "lyra", messages: [{ role: "user", content: "Why does it need sun?" }] }, opts);
    const users = (await logOf(f.mesh, `acme_${conv}`)).filter((e) => e.type === "user_message");
    expect(users.map((e) => [(e as { text: string }).text, (e as { user: { id: string } }).user.id])).toEqual([
      ["How do I keep basil alive?", "acme_openai"],
      ["Why does it need sun?", "acme_openai"],
    ]);
  });
});
