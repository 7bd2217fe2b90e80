/**
 * `speech`: the `speak` tool (the seed's optional voice output). Text becomes audio through an
 * OpenAI-compatible speech endpoint (`POST /v1/audio/speech` on the LiteLLM proxy); the audio is
 * stored in LYRA_MEDIA and the result carries its reference, which the conductor attaches to the
 * reply for the front door to play.
 */
import { McpServer, type CallToolResult } from "@modelcontextprotocol/server";
import { z } from "zod";
import { MAX_MEDIA_BYTES, type Media } from "../../../schemas/index.ts";
import { putMedia } from "../../../mesh/index.ts";
import type { BuiltinContext, BuiltinToolServer } from "../index.ts";
import { endpointError, endpointOptions, failed, mediaLine, openaiClient, parseOptions, resourceLink, trySniff } from "./common.ts";

/** The formats `speak` offers and the type their bytes must sniff as (raw `pcm` has no header to check, so it is not offered). */
export const SPEECH_FORMATS = { mp3: "audio/mpeg", opus: "audio/ogg", aac: "audio/aac", flac: "audio/flac", wav: "audio/wav" } as const;
type Format = keyof typeof SPEECH_FORMATS;

export const SPEECH_DEFAULTS = {
  model: "tts-1",
  voices: ["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"],
  default_voice: "alloy",
  default_format: "mp3" as Format,
  /** OpenAI's limit on the input of /v1/audio/speech. */
  max_chars: 4096,
  timeout_ms: 120_000,
  max_audio_bytes: 16 * 1024 * 1024,
} as const;

const Voice = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "is not a voice name");
const FormatEnum = z.enum(Object.keys(SPEECH_FORMATS) as [Format, ...Format[]]);
const SpeechOptions = z
  .strictObject({
    ...endpointOptions,
    model: z.string().min(1).max(200).default(SPEECH_DEFAULTS.model),
    voices: z
      .array(Voice)
      .min(1)
      .max(100)
      .default([...SPEECH_DEFAULTS.voices]),
    default_voice: Voice.default(SPEECH_DEFAULTS.default_voice),
    default_format: FormatEnum.default(SPEECH_DEFAULTS.default_format),
    max_chars: z.int().min(10).max(100_000).default(SPEECH_DEFAULTS.max_chars),
    timeout_ms: z.int().min(1000).max(600_000).default(SPEECH_DEFAULTS.timeout_ms),
    max_audio_bytes: z.int().min(1024).max(MAX_MEDIA_BYTES).default(SPEECH_DEFAULTS.max_audio_bytes),
  })
  .refine((o) => o.voices.includes(o.default_voice), { message: "default_voice must be one of voices", path: ["default_voice"] });
export type SpeechOptions = z.output<typeof SpeechOptions>;

type SpeakInput = { text: string; voice: string; format: Format; speed?: number };

export const speechBuiltin: BuiltinToolServer = {
  description: "speak: text to audio through an OpenAI-compatible speech endpoint (LiteLLM), stored in LYRA_MEDIA",
  start(ctx) {
    const o = parseOptions(SpeechOptions, ctx.server, ctx.options, "speech");
    if (o.api_key_file === undefined && !ctx.env[o.api_key_env])
      ctx.log.warn(`${o.api_key_env} is not set: speak will answer with an error until it is`);
    const input = z.strictObject({
      text: z
        .string()
        .trim()
        .min(1, "the text is empty; give the words to speak")
        .max(o.max_chars, `the text is over ${o.max_chars} characters; split it or shorten it`)
        .describe("The words to speak"),
      voice: z
        .enum(o.voices as [string, ...string[]])
        .default(o.default_voice)
        .describe(`The voice, one of ${o.voices.join(", ")} (default ${o.default_voice})`),
      format: FormatEnum.default(o.default_format).describe(
        `Audio format: ${Object.keys(SPEECH_FORMATS).join(", ")} (default ${o.default_format})`,
      ),
      speed: z.number().min(0.25).max(4).optional().describe("Speaking speed, 0.25 to 4 (default 1)"),
    });
    return { create: () => speechServer(ctx, o, input) };
  },
};

function speechServer(ctx: BuiltinContext, o: SpeechOptions, input: z.ZodType<SpeakInput>): McpServer {
  const server = new McpServer({ name: "lyra-speech", version: "0.1.0" });
  server.registerTool(
    "speak",
    {
      description:
        "Say text aloud: makes an audio clip of the text, attached to your reply for the user automatically. " +
        "Use it when the user asks to hear something.",
      inputSchema: input,
    },
    async ({ text, voice, format, speed }, mctx): Promise<CallToolResult> => {
      const client = await openaiClient(o, ctx.env);
      if (typeof client === "string") return failed(`speak is not available: ${client}`);
      let bytes: Buffer;
      let contentType: string | null;
      try {
        const res = await client.audio.speech.create(
          { model: o.model, input: text, voice, response_format: format, ...(speed !== undefined ? { speed } : {}) },
          { signal: mctx.mcpReq.signal },
        );
        contentType = res.headers.get("content-type");
        const declared = Number(res.headers.get("content-length") ?? "0");
        if (declared > o.max_audio_bytes) {
          await res.body?.cancel();
          return failed(
            `speak failed: the audio is ${declared} bytes, over this server's max_audio_bytes (${o.max_audio_bytes}); speak a shorter text`,
          );
        }
        bytes = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        return failed(`speak failed: ${await endpointError(err, "speech", o, ctx.log)}`);
      }
      if (bytes.length > o.max_audio_bytes)
        return failed(
          `speak failed: the audio is ${bytes.length} bytes, ` +
            `over this server's max_audio_bytes (${o.max_audio_bytes}); speak a shorter text`,
        );
      const kind = trySniff(bytes);
      if (kind?.mime !== SPEECH_FORMATS[format]) {
        return failed(
          `speak failed: the speech endpoint returned ${kind ? kind.mime : `${bytes.length} bytes of no audio format Lyra knows`} ` +
            `(Content-Type ${contentType ?? "none"}), not the ${format} (${SPEECH_FORMATS[format]}) asked for`,
        );
      }
      let m: Media;
      try {
        m = await putMedia(ctx.mesh, bytes, { placement: "store", maxAgeMs: o.media_max_age_ms, filename: `speech.${format}` });
      } catch (err) {
        return failed(`speak failed: the audio could not be stored in LYRA_MEDIA: ${(err as Error).message}`);
      }
      return {
        content: [
          {
            type: "text",
            text:
              `Spoke ${text.length} characters (voice ${voice}, ${format}); ` +
              `the audio is attached to the reply.\naudio: ${mediaLine(m)}`,
          },
          resourceLink(m, `speech.${format}`, `speech (${voice})`),
        ],
        structuredContent: { media: [m], model: o.model, voice, format },
      };
    },
  );
  return server;
}
