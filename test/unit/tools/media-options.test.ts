/** The artist's and speech's options: the example config's are valid and name the defaults; bad ones name the option. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { silentLogger } from "../../../mesh/logger.ts";
import type { Mesh } from "../../../mesh/connect.ts";
import { ARTIST_DEFAULTS, artistBuiltin, SPEECH_DEFAULTS, speechBuiltin } from "../../../tools/builtin/media/index.ts";
import type { BuiltinToolServer } from "../../../tools/builtin/index.ts";

type Servers = Record<string, { options: Record<string, unknown> }>;
const example = (
  parse(readFileSync(new URL("../../../config/mesh.example.yaml", import.meta.url), "utf8")) as { tools: { servers: Servers } }
).tools.servers;
// Neither server touches the mesh when it starts.
const start = (b: BuiltinToolServer, options: Record<string, unknown>) =>
  b.start({ server: "s", options, mesh: undefined as unknown as Mesh, tenant: "t", host: "h", env: {}, log: silentLogger });

describe("media tool servers' options", () => {
  it("the example config's artist and speech options are valid and are the defaults", () => {
    expect(() => start(artistBuiltin, example.artist!.options)).not.toThrow();
    expect(() => start(speechBuiltin, example.speech!.options)).not.toThrow();
    expect(example.artist!.options).toMatchObject({
      model: ARTIST_DEFAULTS.model,
      max_n: ARTIST_DEFAULTS.max_n,
      sizes: ARTIST_DEFAULTS.sizes,
      timeout_ms: ARTIST_DEFAULTS.timeout_ms,
      preview_max_bytes: ARTIST_DEFAULTS.preview_max_bytes,
    });
    expect(example.speech!.options).toMatchObject({
      model: SPEECH_DEFAULTS.model,
      voices: SPEECH_DEFAULTS.voices,
      max_chars: SPEECH_DEFAULTS.max_chars,
    });
  });

  it.each([
    [artistBuiltin, { sizes: ["big"] }, /options\.sizes\.0 is "big": is not WIDTHxHEIGHT/],
    [
      artistBuiltin,
      { default_size: "256x256", sizes: ["512x512"] },
      /options\.default_size is "256x256": default_size must be one of sizes/,
    ],
    [artistBuiltin, { base_url: "ftp://x" }, /options\.base_url is "ftp:\/\/x"/],
    [artistBuiltin, { api_key_env: "sk-123" }, /options\.api_key_env is "sk-123"/],
    [artistBuiltin, { max_image_bytes: 1e9 }, /options\.max_image_bytes is 1000000000/],
    [artistBuiltin, { preview_max_bytes: 1e6 }, /options\.preview_max_bytes is 1000000/],
    [speechBuiltin, { default_voice: "robot" }, /options\.default_voice is "robot": default_voice must be one of voices/],
    [speechBuiltin, { default_format: "pcm" }, /options\.default_format is "pcm"/],
    [speechBuiltin, { apikey: "x" }, /unknown option\(s\) 'apikey'/],
  ])("refuses a bad option (%#)", (b, options, message) => {
    expect(() => start(b, options)).toThrow(message);
  });
});
