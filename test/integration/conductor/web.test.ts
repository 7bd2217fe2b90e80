/**
 * End to end with the web built-in: `lyra ask` → the pragmatist (Ollama double) calls
 * web__web_search (SearXNG double), then web__fetch_page on the first result (a page served on
 * localhost) → the answer cites the page; `lyra log` shows both calls.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";
import type { NatsServer } from "../../harness/nats-server.ts";
import { runLyra } from "../../harness/committee-fixture.ts";
import type { DoubleServer } from "../../doubles/http.ts";
import {
  offeredTools,
  startOllamaDouble,
  toolResultsOf,
  type OllamaChatBody,
  type OllamaDouble,
  type OllamaDoubleReply,
  isVoiceChat,
} from "../../doubles/ollama.ts";
import { startSearxngDouble, type SearxngDouble } from "../../doubles/searxng.ts";
import { ARTICLE_SENTENCE, startPages } from "../tools/web-pages.ts";
import { logOf } from "./helpers.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { startCommittee } from "../../harness/conductor.ts";

const lastUser = (b: OllamaChatBody) => b.messages?.findLast((m) => m.role === "user")?.content ?? "";
const isVoice = isVoiceChat;

/** The pragmatist's model: search, then read the first result, then answer citing it. */
function pragmatist(b: OllamaChatBody): OllamaDoubleReply {
  const results = toolResultsOf(b);
  if (results.length === 0) return { tool_calls: [{ function: { name: "web__web_search", arguments: { query: "jetstream streams" } } }] };
  if (results.length === 1) {
    const first = /https?:\/\/\S+/.exec(results[0]!.content)?.[0];
    return first
      ? { tool_calls: [{ function: { name: "web__fetch_page", arguments: { url: first } } }] }
      : `search failed: ${results[0]!.content}`;
  }
  const page = results[1]!.content;
  const url = /^URL: (\S+)/m.exec(page)?.[1];
  const title = /^Title: (.+)$/m.exec(page)?.[1];
  return page.includes(ARTICLE_SENTENCE) ? `${ARTICLE_SENTENCE} (source: "${title}", ${url})` : `could not read the page: ${page}`;
}

describe("the pragmatist searches the web and reads a page (web built-in over NATS)", () => {
  let fx: MeshFixture;
  let nats: NatsServer;
  let mesh: Mesh;
  let ollama: OllamaDouble;
  let searx: SearxngDouble;
  let pages: DoubleServer;

  beforeAll(async () => {
    fx = await startMeshFixture({ server: { jetstream: true } });
    ({ server: nats, caller: mesh } = fx);
    pages = fx.own(await startPages());
    searx = fx.own(
      await startSearxngDouble({
        results: () => [{ url: `${pages.url}/article`, title: "Streams in depth", content: "How JetStream keeps messages" }],
      }),
    );
    ollama = fx.own(
      await startOllamaDouble({
        models: ["qwen3:4b"],
        json: () => ({ specialist: "pragmatist", confidence: 0.9, reason: "the double always routes here" }),
        reply: (b) =>
          b.format !== undefined
            ? ""
            : isVoice(b)
              ? `Lyra: ${b.messages?.findLast((m) => m.role === "user")?.content ?? ""}`
              : pragmatist(b),
      }),
    );
    const role = (kind: string, extra = "") => `{ kind: ${kind}, model: qwen3:4b, backend: ollama, slots: 2${extra} }`;
    const yaml = `
mesh: { name: test, owner: tester }
nats: { servers: ["${nats.url}"] }
tools:
  servers:
    web: { builtin: web, options: { searxng_url: "${searx.url}", allow_private: true } }
roles:
  router: ${role("router")}
  pragmatist: ${role("specialist", ", tools: ['web.*'], description: practical")}
  voice: ${role("voice")}
router: { default_specialist: pragmatist }
hosts:
  local: { ollama_url: ${ollama.url}, roles: [router, pragmatist, voice] }
conductor: { ack_wait_ms: 5000 }
`;
    const config = parseMeshConfig(yaml, { source: "web e2e test", env: {} });
    fx.own(await startCommittee(fx.agent, config, { tools: true }));
  });
  afterAll(() => fx?.[Symbol.asyncDispose]());

  it("lyra ask → web__web_search → web__fetch_page → the answer cites the page; lyra log shows both calls", async () => {
    const q = "how does jetstream keep messages?";
    const ask = runLyra(["ask", "--nats", nats.url, "--conversation", "web1", q]);
    expect(await ask.exited).toBe(0);
    const pageUrl = `${pages.url}/article`;
    expect(ask.output()).toContain(`${ARTICLE_SENTENCE} (source: "Streams in depth", ${pageUrl})`);

    const chats = ollama.chats().filter((b) => b.format === undefined && !isVoice(b) && lastUser(b) === q);
    expect(chats.length).toBe(3);
    expect(offeredTools(chats[0]!).sort()).toEqual(["web__browse", "web__fetch_page", "web__web_search"]);
    expect(searx.requests.at(-1)).toMatchObject({ path: "/search", body: { q: "jetstream streams", format: "json" } });

    const events = await logOf(mesh, "web1");
    const calls = events.filter((e) => e.type === "tool_call");
    expect(calls).toMatchObject([
      { role: "pragmatist", server: "web", tool: "web_search", arguments: { query: "jetstream streams" } },
      { role: "pragmatist", server: "web", tool: "fetch_page", arguments: { url: pageUrl } },
    ]);
    expect(events.filter((e) => e.type === "tool_result").map((e) => (e as { status?: string }).status)).toEqual(["ok", "ok"]);

    const log = runLyra(["log", "--nats", nats.url, "web1"]);
    expect(await log.exited).toBe(0);
    expect(log.stdout()).toContain('tool  pragmatist@local → web.web_search {"query":"jetstream streams"}');
    expect(log.stdout()).toContain(`tool  pragmatist@local → web.fetch_page {"url":"${pageUrl}"}`);
    expect(log.stdout()).toMatch(/← web\.fetch_page: "Title: Streams in depth/);
  });
});
