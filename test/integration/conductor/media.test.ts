/**
 * End to end: a committee turn where the specialist (Ollama double) calls the artist's
 * generate_image and the speech server's speak (built-ins over NATS, against the OpenAI-compatible
 * double); the final outbox message carries both media references, the stored objects read back
 * byte-identical, the log's tool results hold the references, and a re-run of the turn (a
 * redelivery after the specialist finished) still attaches them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLyra } from "../../harness/committee-fixture.ts";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { jetstream } from "@nats-io/jetstream";
import { putMedia, readMedia } from "../../../mesh/media.ts";
import { encodeBody } from "../../../mesh/body.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { startOllamaDouble, toolResultsOf, type OllamaChatBody, type OllamaDouble, isVoiceChat } from "../../doubles/ollama.ts";
import { fakeAudio, fakePng, startOpenAIDouble, type OpenAIDouble } from "../../doubles/openai.ts";
import { askTurn, logOf, newId, serveConfig } from "./helpers.ts";

const lastUser = (b: OllamaChatBody) => b.messages?.findLast((m) => m.role === "user")?.content ?? "";
const isVoice = isVoiceChat;

let nats: NatsServer;
let mesh: Mesh;
let ollama: OllamaDouble;
let api: OpenAIDouble;
let served: { close(): Promise<void> };

beforeAll(async () => {
  api = await startOpenAIDouble({ models: ["flux", "tts-1"] });
  ollama = await startOllamaDouble({
    models: ["qwen3:4b"],
    json: () => ({ specialist: "pragmatist", confidence: 0.9, reason: "double" }),
    reply: (b) => {
      if (b.format !== undefined) return "";
      if (isVoice(b)) return `Lyra: ${lastUser(b)}`;
      const results = toolResultsOf(b);
      if (!results.length && lastUser(b).includes("99 foxes"))
        return { tool_calls: [{ function: { name: "artist__generate_image", arguments: { prompt: "foxes", n: 99 } } }] };
      if (results.length) return `Here you are: ${results.map((r) => r.content.split("\n")[0]).join(" / ")}`;
      return {
        tool_calls: [
          { function: { name: "artist__generate_image", arguments: { prompt: "a red fox in snow", size: "512x512" } } },
          { function: { name: "speech__speak", arguments: { text: "A red fox in snow." } } },
        ],
      };
    },
  });
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
  process.env.TEST_MEDIA_KEY = api.apiKey;
  const endpoint = `{ base_url: "${api.baseURL}", api_key_env: TEST_MEDIA_KEY }`;
  const config = parseMeshConfig(
    `
mesh: { name: test, owner: tester }
nats: { servers: ["${nats.url}"] }
tools:
  servers:
    artist: { builtin: artist, options: ${endpoint} }
    speech: { builtin: speech, options: ${endpoint} }
roles:
  router: { kind: router, model: "qwen3:4b", slots: 4 }
  pragmatist: { model: "qwen3:4b", slots: 4, tools: [artist.generate_image, speech.speak] }
  voice: { kind: voice, model: "qwen3:4b", slots: 4 }
hosts:
  local: { ollama_url: ${ollama.url}, roles: [router, pragmatist, voice] }
conductor: { ack_wait_ms: 5000 }
`,
    { source: "media e2e", env: {} },
  );
  served = await serveConfig(mesh, config);
});
afterAll(async () => {
  await served?.close();
  await mesh?.close();
  await nats?.close();
  await ollama?.close();
  await api?.close();
  delete process.env.TEST_MEDIA_KEY;
});

describe("media produced by tools go with the reply", () => {
  it("the specialist calls generate_image and speak; the final outbox message carries both references", async () => {
    const reply = await askTurn(mesh, "fox1", "draw me a fox and say it");
    expect(reply.error).toBeUndefined();
    expect(reply.text).toMatch(/^Lyra: Here you are: Generated 1 image \(512x512, model flux\)/);
    const media = reply.media ?? [];
    expect(media.map((m) => m.kind).sort()).toEqual(["audio", "image"]);
    const image = media.find((m) => m.kind === "image")!;
    const audio = media.find((m) => m.kind === "audio")!;
    expect(image.mime).toBe("image/png");
    expect(image.object).toMatch(/^image\/[0-9a-f]{64}$/);
    expect(audio.mime).toBe("audio/mpeg");
    expect(audio.object).toMatch(/^audio\/[0-9a-f]{64}$/);
    expect(Buffer.from(await readMedia(mesh, image)).equals(fakePng("a red fox in snow#0"))).toBe(true);
    expect(Buffer.from(await readMedia(mesh, audio)).equals(fakeAudio("mp3", "A red fox in snow."))).toBe(true);

    const results = (await logOf(mesh, "fox1")).filter((e) => e.type === "tool_result");
    expect(results.map((e) => (e.type === "tool_result" ? e.media?.[0]?.object : undefined)).sort()).toEqual(
      [audio.object, image.object].sort(),
    );
  });

  it("a failed tool call adds no media: the reply says what happened and carries none", async () => {
    const reply = await askTurn(mesh, "fox2", "draw me 99 foxes");
    expect(reply.media).toBeUndefined();
    expect(reply.text).toMatch(/Input validation error: .*n: Too big: expected number to be <=4/);
  });

  it("lyra ask --image sends a picture with the message and --save writes the reply's media", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lyra-ask-media-"));
    const picture = join(dir, "cat.png");
    writeFileSync(picture, fakePng("a photo of a cat", 400_000));
    const before = ollama.chats().length;
    const ask = runLyra([
      "ask",
      "--nats",
      nats.url,
      "--conversation",
      "fox4",
      "--image",
      picture,
      "--save",
      join(dir, "out"),
      "draw me a fox and say it",
    ]);
    expect(await ask.exited, ask.output()).toBe(0);
    expect(ask.stdout()).toMatch(
      /\[image: image\/png, 2000 bytes, image\/[0-9a-f]{64}\]\n\[audio: audio\/mpeg, \d+ bytes, audio\/[0-9a-f]{64}\]/,
    );
    expect(readFileSync(join(dir, "out", "image-1.png")).equals(fakePng("a red fox in snow#0"))).toBe(true);
    expect(readFileSync(join(dir, "out", "speech.mp3")).equals(fakeAudio("mp3", "A red fox in snow."))).toBe(true);
    // The pragmatist cannot see: it got the picture as a note with its reference (400 KB: stored, not inline).
    const first = ollama
      .chats()
      .slice(before)
      .find((b) => b.format === undefined && !isVoice(b))!;
    expect(lastUser(first)).toMatch(/\[The user attached an image \(image\/png, 400000 bytes, reference image\/[0-9a-f]{64}\)/);
    expect(first.messages?.some((m) => m.images?.length)).toBe(false);
  });

  it("lyra ask --image refuses a file that is not an image, naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lyra-ask-media-"));
    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "just text");
    const ask = runLyra(["ask", "--nats", nats.url, "--image", notes, "what is this?"]);
    expect(await ask.exited).not.toBe(0);
    expect(ask.output()).toMatch(/--image .*notes\.txt: media is no supported format/);
  });

  it("a turn re-run after the specialist finished (a conductor died before the reply) still attaches the media, from the log", async () => {
    const id = newId();
    const image = await putMedia(mesh, fakePng("logged fox"), { placement: "store" });
    const js = jetstream(mesh.nc);
    const base = { ts: Date.now(), conversation: "fox5", turn: id };
    const steps: [string, object][] = [
      ["user", { type: "user_message", channel: "cli", user: { id: "tester" }, text: "draw a fox" }],
      ["routed", { type: "routed", specialist: "pragmatist", confidence: 0.9, reason: "double" }],
      ["specialist-started", { type: "specialist_started", specialist: "pragmatist" }],
      [
        "specialist-tool-1-result",
        {
          type: "tool_result",
          role: "pragmatist",
          tool: "generate_image",
          server: "artist",
          outcome: "Generated 1 image",
          is_error: false,
          call: "c1",
          media: [image],
        },
      ],
      ["specialist-finished", { type: "specialist_finished", specialist: "pragmatist", text: "Here is the fox I drew." }],
    ];
    for (const [step, ev] of steps) {
      const { data, headers } = encodeBody(mesh, { ...base, ...ev });
      await js.publish(subjects.log("fox5"), data, { msgID: `cli:${id}:${step}`, headers });
    }
    const before = ollama.chats().length;
    const reply = await askTurn(mesh, "fox5", "draw a fox", id);
    expect(reply.text).toBe("Lyra: Here is the fox I drew.");
    expect(reply.media).toEqual([image]);
    // Only the voice ran: the router's and the specialist's steps came from the log.
    expect(ollama.chats().slice(before).every(isVoice)).toBe(true);
  });
});
