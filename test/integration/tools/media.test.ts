/**
 * artist (generate_image) and speech (speak) over NATS (real nats-server, real MCP through the SDK
 * client) against the OpenAI-compatible double: the stored object is fetched back byte-identical,
 * no NATS message carries the media, the endpoint's documented errors and bad inputs are each a
 * clear tool error, and the server keeps serving.
 */
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/client";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { readMedia } from "../../../mesh/media.ts";
import { Media } from "../../../schemas/index.ts";
import { createMcpClient } from "../../../tools/client.ts";
import { startToolHost, type ToolHost } from "../../../tools/host.ts";
import { connectSdkClient } from "../../../tools/sdk.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { fakeAudio, fakePng, startOpenAIDouble, type OpenAIDouble, type OpenAIImage } from "../../doubles/openai.ts";

let nats: NatsServer;
let mesh: Mesh;
let api: OpenAIDouble;
let host: ToolHost;
const clients: Record<string, Client> = {};
/** What the images endpoint answers next (once); undefined: the double's default. */
let nextImages: OpenAIImage[] | undefined;
let nextAudio: { bytes: Buffer; contentType?: string } | undefined;
/** The largest NATS message seen, by subject. */
let largest = { size: 0, subject: "" };
/** The artist-keyfile server's key file (litellm.api_key_file): rewritten to rotate the key. */
const keyFile = join(mkdtempSync(join(tmpdir(), "lyra-media-key-")), "litellm.key");

beforeAll(async () => {
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
  api = await startOpenAIDouble({
    models: ["flux", "tts-1"],
    images: (b) => {
      const r = nextImages ?? Array.from({ length: b.n ?? 1 }, (_, i) => ({ b64_json: fakePng(`${b.prompt}#${i}`).toString("base64") }));
      nextImages = undefined;
      return r;
    },
    speech: (b) => {
      const r = nextAudio ?? { bytes: fakeAudio(b.response_format ?? "mp3", b.input) };
      nextAudio = undefined;
      return r;
    },
  });
  const endpoint = { base_url: api.baseURL, api_key_env: "TEST_LITELLM_KEY", timeout_ms: 5000 };
  writeFileSync(keyFile, `${api.apiKey}\n`);
  host = await startToolHost(mesh, {
    tenant: "t",
    host: "h",
    env: { TEST_LITELLM_KEY: api.apiKey },
    log: silentLogger,
    servers: {
      artist: { builtin: "artist", options: { ...endpoint, max_n: 4 } },
      "artist-small": { builtin: "artist", options: { ...endpoint, max_image_bytes: 4096 } },
      "artist-keyfile": { builtin: "artist", options: { ...endpoint, api_key_env: "NO_SUCH_KEY", api_key_file: keyFile } },
      "artist-nokey": { builtin: "artist", options: { ...endpoint, api_key_env: "NO_SUCH_KEY" } },
      "artist-nomodel": { builtin: "artist", options: { ...endpoint, model: "sdxl-missing" } },
      "artist-down": { builtin: "artist", options: { ...endpoint, base_url: "http://127.0.0.1:9/v1" } },
      speech: { builtin: "speech", options: endpoint },
      "speech-small": { builtin: "speech", options: { ...endpoint, max_audio_bytes: 1024 } },
      "speech-nokey": { builtin: "speech", options: { ...endpoint, api_key_env: "NO_SUCH_KEY" } },
    },
  });
  for (const s of host.servers())
    clients[s.server] = await connectSdkClient(createMcpClient(mesh, { tenant: "t", user: "pragmatist" }), s.server);
  const sub = mesh.nc.subscribe(">");
  void (async () => {
    for await (const m of sub) if (m.data.length > largest.size) largest = { size: m.data.length, subject: m.subject };
  })();
});
afterAll(async () => {
  for (const c of Object.values(clients)) await c.close();
  await host?.close();
  await api?.close();
  await mesh?.close();
  await nats?.close();
});

type Block = { type: string; text?: string; data?: string; mimeType?: string; uri?: string; name?: string; size?: number };
type Outcome = { isError: boolean; text: string; content: Block[]; media: Media[] };

async function call(server: string, name: string, args: unknown): Promise<Outcome> {
  try {
    const r = (await clients[server]!.callTool({ name, arguments: args as Record<string, unknown> })) as {
      isError?: boolean;
      content: Block[];
      structuredContent?: { media?: unknown[] };
    };
    const media = (r.structuredContent?.media ?? []).map((m) => Media.parse(m));
    return {
      isError: r.isError === true,
      text: r.content
        .filter((b) => b.type === "text")
        .map((b) => b.text)
        .join("\n"),
      content: r.content,
      media,
    };
  } catch (err) {
    return { isError: true, text: `rpc error: ${(err as Error).message}`, content: [], media: [] };
  }
}

describe("artist: generate_image", () => {
  it("stores the image in LYRA_MEDIA and returns its reference, a resource link and a preview; fetched back byte-identical", async () => {
    const r = await call("artist", "generate_image", { prompt: "a lighthouse at dusk", size: "512x512" });
    expect(r.isError, r.text).toBe(false);
    expect(api.requests.at(-1)).toMatchObject({
      path: "/v1/images/generations",
      body: { model: "flux", prompt: "a lighthouse at dusk", n: 1, size: "512x512", response_format: "b64_json" },
    });
    expect(r.media).toHaveLength(1);
    const m = r.media[0]!;
    expect(m).toMatchObject({ kind: "image", mime: "image/png", size: 2000, filename: "image-1.png" });
    expect(m.object).toMatch(/^image\/[0-9a-f]{64}$/);
    expect(m.data).toBeUndefined();
    expect(Buffer.from(await readMedia(mesh, m)).equals(fakePng("a lighthouse at dusk#0"))).toBe(true);
    expect(r.content.find((b) => b.type === "resource_link")).toMatchObject({
      uri: `lyra-media:${m.object}`,
      mimeType: "image/png",
      size: 2000,
    });
    expect(r.content.find((b) => b.type === "image")).toMatchObject({
      mimeType: "image/png",
      data: fakePng("a lighthouse at dusk#0").toString("base64"),
    });
    expect(r.text).toMatch(/Generated 1 image \(512x512, model flux\); it is attached to the reply/);
  });

  it("n images, each stored; a large one has no inline preview and no NATS message carries it", async () => {
    const big = fakePng("big", 3 * 1024 * 1024);
    nextImages = [{ b64_json: big.toString("base64") }, { b64_json: fakePng("small").toString("base64") }];
    largest = { size: 0, subject: "" };
    const r = await call("artist", "generate_image", { prompt: "two views", n: 2 });
    expect(r.isError, r.text).toBe(false);
    expect(r.media.map((m) => m.size)).toEqual([big.length, 2000]);
    expect(Buffer.from(await readMedia(mesh, r.media[0]!)).equals(big)).toBe(true);
    expect(r.content.filter((b) => b.type === "image")).toHaveLength(1);
    expect(r.content.filter((b) => b.type === "resource_link")).toHaveLength(2);
    await mesh.nc.flush();
    // Object Store chunks are 128 KiB; the tool result holds references and one 2 KB preview.
    expect(largest.size, largest.subject).toBeLessThan(200 * 1024);
  });

  const bad: [string, string, unknown, RegExp][] = [
    ["no prompt", "artist", {}, /prompt/],
    ["a numeric prompt", "artist", { prompt: 42 }, /prompt/],
    ["a null prompt", "artist", { prompt: null }, /prompt/],
    ["an array prompt", "artist", { prompt: ["a", "b"] }, /prompt/],
    ["an empty prompt", "artist", { prompt: "" }, /prompt is empty/],
    ["a blank prompt", "artist", { prompt: "   \n " }, /prompt is empty/],
    ["a prompt over 4000 characters", "artist", { prompt: "x".repeat(4001) }, /over 4000 characters/],
    ["a size not offered", "artist", { prompt: "cat", size: "999x999" }, /size/],
    ["a size that is no size", "artist", { prompt: "cat", size: "huge" }, /size/],
    ["a numeric size", "artist", { prompt: "cat", size: 1024 }, /size/],
    ["n = 0", "artist", { prompt: "cat", n: 0 }, /\bn\b/],
    ["negative n", "artist", { prompt: "cat", n: -2 }, /\bn\b/],
    ["fractional n", "artist", { prompt: "cat", n: 1.5 }, /\bn\b/],
    ["n over max_n", "artist", { prompt: "cat", n: 5 }, /\bn\b/],
    ["n as a string", "artist", { prompt: "cat", n: "2" }, /\bn\b/],
    ["an unknown argument", "artist", { prompt: "cat", style: "vivid" }, /style/],
    ["asking for URLs", "artist", { prompt: "cat", response_format: "url" }, /response_format/],
    ["choosing the model", "artist", { prompt: "cat", model: "dall-e-3" }, /model/],
    ["no API key on the host", "artist-nokey", { prompt: "cat" }, /not available: the tool host has no API key .* set NO_SUCH_KEY/],
    ["a model the endpoint does not serve (404)", "artist-nomodel", { prompt: "cat" }, /has no model 'sdxl-missing' \(404/],
    ["the endpoint down", "artist-down", { prompt: "cat" }, /cannot be reached .* is the LiteLLM proxy running/],
    [
      "an image over max_image_bytes",
      "artist-small",
      { prompt: "cat" },
      /image 1 is 5000 bytes, over this server's max_image_bytes \(4096\); ask for a smaller size/,
    ],
  ];
  it.each(bad)("refuses %s with a clear error", async (_what, server, args, reason) => {
    if (server === "artist-small") nextImages = [{ b64_json: fakePng("x", 5000).toString("base64") }];
    const r = await call(server, "generate_image", args);
    expect(r.isError, r.text).toBe(true);
    expect(r.text).toMatch(reason);
    expect(r.media).toEqual([]);
  });

  const upstream: [string, () => void, RegExp][] = [
    [
      "400 invalid_request_error (content policy)",
      () => api.failNext(400, "Your request was rejected as a result of our safety system."),
      /refused the request \(400 invalid_request_error\): Your request was rejected .*; change the arguments/,
    ],
    [
      "401 (bad key)",
      () => api.failNext(401),
      /refused the tool host's key \(401: Invalid API key\); the operator must set a valid key in TEST_LITELLM_KEY/,
    ],
    ["429 (rate limited)", () => api.failNext(429), /rate limiting requests \(429: Rate limit reached for requests\); try again later/],
    ["500 (server error)", () => api.failNext(500), /failed \(500: The server had an error/],
    ["503 (overloaded)", () => api.failNext(503), /failed \(503: The engine is currently overloaded/],
    ["a URL instead of b64_json", () => (nextImages = [{ url: "https://example.org/cat.png" }]), /without b64_json \(it sent a URL\)/],
    ["no image at all", () => (nextImages = []), /answered with no image/],
    [
      "bytes that are no image",
      () => (nextImages = [{ b64_json: Buffer.from("<html>nope</html>").toString("base64") }]),
      /no image format Lyra knows, not a png, jpeg, gif or webp image/,
    ],
    [
      "audio instead of an image",
      () => (nextImages = [{ b64_json: fakeAudio("mp3", "x").toString("base64") }]),
      /is audio\/mpeg, not a png/,
    ],
  ];
  it.each(upstream)("the endpoint's %s is a tool error with the reason, and the next call works", async (_what, arrange, reason) => {
    arrange();
    const r = await call("artist", "generate_image", { prompt: "a cat" });
    expect(r.isError, r.text).toBe(true);
    expect(r.text).toMatch(reason);
    expect((await call("artist", "generate_image", { prompt: "a cat" })).isError).toBe(false);
  });

  it("with api_key_file the key rotates without a restart: each call reads the file", async () => {
    const ok = async () => {
      const r = await call("artist-keyfile", "generate_image", { prompt: "a kite" });
      return r.isError ? r.text : "ok";
    };
    expect(await ok()).toBe("ok");
    try {
      api.acceptKeys([api.apiKey, "sk-rotated"]);
      writeFileSync(`${keyFile}.tmp`, "sk-rotated\n");
      renameSync(`${keyFile}.tmp`, keyFile);
      api.acceptKeys(["sk-rotated"]); // the old key is refused from now on
      expect(await ok()).toBe("ok");
      expect(api.requests.at(-1)?.headers?.authorization).toBe("Bearer sk-rotated");
      writeFileSync(keyFile, "");
      const r = await call("artist-keyfile", "generate_image", { prompt: "a kite" });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/key file .* holds 0 keys/);
    } finally {
      api.acceptKeys([api.apiKey]);
      writeFileSync(keyFile, api.apiKey);
    }
  });

  it("bad options leave the server failed with a message naming the option", async () => {
    const h = await startToolHost(mesh, {
      tenant: "t2",
      host: "h",
      log: silentLogger,
      servers: {
        a: { builtin: "artist", options: { default_size: "7x7" } },
        b: { builtin: "artist", options: { max_n: 0 } },
        c: { builtin: "speech", options: { voice: "x" } },
      },
    });
    const errors = Object.fromEntries(h.servers().map((s) => [s.server, s.error]));
    expect(errors.a).toMatch(/tools\.servers\.a\.options\.default_size is "7x7"/);
    expect(errors.b).toMatch(/tools\.servers\.b\.options\.max_n is 0/);
    expect(errors.c).toMatch(/tools\.servers\.c\.options has unknown option\(s\) 'voice'/);
    await h.close();
  });
});

describe("speech: speak", () => {
  it("stores the audio in LYRA_MEDIA and returns its reference; fetched back byte-identical", async () => {
    const r = await call("speech", "speak", { text: "Hello from Lyra", voice: "nova" });
    expect(r.isError, r.text).toBe(false);
    expect(api.requests.at(-1)).toMatchObject({
      path: "/v1/audio/speech",
      body: { model: "tts-1", input: "Hello from Lyra", voice: "nova", response_format: "mp3" },
    });
    const m = r.media[0]!;
    expect(m).toMatchObject({ kind: "audio", mime: "audio/mpeg", filename: "speech.mp3" });
    expect(m.object).toMatch(/^audio\/[0-9a-f]{64}$/);
    expect(Buffer.from(await readMedia(mesh, m)).equals(fakeAudio("mp3", "Hello from Lyra"))).toBe(true);
    expect(r.content.find((b) => b.type === "resource_link")).toMatchObject({ uri: `lyra-media:${m.object}`, mimeType: "audio/mpeg" });
  });

  it.each([
    ["opus", "audio/ogg"],
    ["aac", "audio/aac"],
    ["flac", "audio/flac"],
    ["wav", "audio/wav"],
  ])("format %s: stored as %s (the bytes are checked, not the Content-Type)", async (format, mime) => {
    const r = await call("speech", "speak", { text: `in ${format}`, format, speed: 1.25 });
    expect(r.isError, r.text).toBe(false);
    expect(r.media[0]).toMatchObject({ kind: "audio", mime });
    expect(Buffer.from(await readMedia(mesh, r.media[0]!)).equals(fakeAudio(format, `in ${format}`))).toBe(true);
    expect(api.requests.at(-1)!.body).toMatchObject({ response_format: format, speed: 1.25 });
  });

  const bad: [string, string, unknown, RegExp][] = [
    ["no text", "speech", {}, /text/],
    ["a numeric text", "speech", { text: 5 }, /text/],
    ["a null text", "speech", { text: null }, /text/],
    ["an empty text", "speech", { text: "" }, /text is empty/],
    ["a blank text", "speech", { text: "  \t " }, /text is empty/],
    ["a text over 4096 characters", "speech", { text: "y".repeat(4097) }, /over 4096 characters/],
    ["an unknown voice", "speech", { text: "hi", voice: "robot" }, /voice/],
    ["a numeric voice", "speech", { text: "hi", voice: 3 }, /voice/],
    ["raw pcm (not offered: nothing to check)", "speech", { text: "hi", format: "pcm" }, /format/],
    ["an unknown format", "speech", { text: "hi", format: "ogg" }, /format/],
    ["speed under 0.25", "speech", { text: "hi", speed: 0.1 }, /speed/],
    ["speed over 4", "speech", { text: "hi", speed: 5 }, /speed/],
    ["speed as a word", "speech", { text: "hi", speed: "fast" }, /speed/],
    ["an unknown argument", "speech", { text: "hi", language: "fr" }, /language/],
    ["choosing the model", "speech", { text: "hi", model: "tts-1-hd" }, /model/],
    ["no API key on the host", "speech-nokey", { text: "hi" }, /speak is not available: the tool host has no API key .* set NO_SUCH_KEY/],
    ["audio over max_audio_bytes", "speech-small", { text: "z".repeat(2000) }, /over this server's max_audio_bytes \(1024\)/],
  ];
  it.each(bad)("refuses %s with a clear error", async (_what, server, args, reason) => {
    const r = await call(server, "speak", args);
    expect(r.isError, r.text).toBe(true);
    expect(r.text).toMatch(reason);
  });

  const upstream: [string, () => void, RegExp][] = [
    [
      "400 invalid_request_error",
      () => api.failNext(400, "'input' is too long"),
      /speech endpoint refused the request \(400 invalid_request_error\): 'input' is too long/,
    ],
    ["401", () => api.failNext(401), /refused the tool host's key \(401/],
    ["429", () => api.failNext(429), /rate limiting requests \(429/],
    ["500", () => api.failNext(500), /speech endpoint failed \(500/],
    [
      "a JSON body with a 200",
      () => (nextAudio = { bytes: Buffer.from('{"ok":true}'), contentType: "application/json" }),
      /no audio format Lyra knows \(Content-Type application\/json\), not the mp3/,
    ],
    [
      "another format than asked",
      () => (nextAudio = { bytes: fakeAudio("wav", "x"), contentType: "audio/mpeg" }),
      /returned audio\/wav .*not the mp3 \(audio\/mpeg\) asked for/,
    ],
  ];
  it.each(upstream)("the endpoint's %s is a tool error with the reason, and the next call works", async (_what, arrange, reason) => {
    arrange();
    const r = await call("speech", "speak", { text: "hello" });
    expect(r.isError, r.text).toBe(true);
    expect(r.text).toMatch(reason);
    expect((await call("speech", "speak", { text: "hello" })).isError).toBe(false);
  });

  it("every server is still up after all of it", () => {
    expect(host.servers().every((s) => s.state === "up")).toBe(true);
  });
});
