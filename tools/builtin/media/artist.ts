/**
 * `artist`: the `generate_image` tool. Images come from an OpenAI-compatible images endpoint
 * (`POST /v1/images/generations` on the LiteLLM proxy, in front of Flux, SDXL or a cloud model),
 * asked for as base64; each is stored in LYRA_MEDIA and the result carries its reference
 * (structuredContent.media, a resource_link) and, when small, the image itself as a preview.
 */
import { McpServer, type CallToolResult } from "@modelcontextprotocol/server";
import { z } from "zod";
import { MAX_MEDIA_BYTES, type Media } from "../../../schemas/index.ts";
import { putMedia } from "../../../mesh/index.ts";
import type { BuiltinContext, BuiltinToolServer } from "../index.ts";
import { endpointError, endpointOptions, failed, mediaLine, openaiClient, parseOptions, resourceLink, trySniff } from "./common.ts";

export const ARTIST_DEFAULTS = {
  model: "flux",
  sizes: ["256x256", "512x512", "1024x1024", "1024x1792", "1792x1024"],
  default_size: "1024x1024",
  max_n: 4,
  max_prompt_chars: 4000,
  timeout_ms: 180_000,
  max_image_bytes: 16 * 1024 * 1024,
  preview_max_bytes: 64 * 1024,
} as const;

const Size = z.string().regex(/^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$/, "is not WIDTHxHEIGHT, e.g. 1024x1024");
const ArtistOptions = z
  .strictObject({
    ...endpointOptions,
    /** The model alias LiteLLM routes to the image model. */
    model: z.string().min(1).max(200).default(ARTIST_DEFAULTS.model),
    sizes: z
      .array(Size)
      .min(1)
      .max(20)
      .default([...ARTIST_DEFAULTS.sizes]),
    default_size: Size.default(ARTIST_DEFAULTS.default_size),
    max_n: z.int().min(1).max(10).default(ARTIST_DEFAULTS.max_n),
    max_prompt_chars: z.int().min(10).max(32_000).default(ARTIST_DEFAULTS.max_prompt_chars),
    timeout_ms: z.int().min(1000).max(600_000).default(ARTIST_DEFAULTS.timeout_ms),
    max_image_bytes: z.int().min(1024).max(MAX_MEDIA_BYTES).default(ARTIST_DEFAULTS.max_image_bytes),
    /** An image up to this size is also returned inline as a preview (MCP image content); 0: never. */
    preview_max_bytes: z
      .int()
      .min(0)
      .max(256 * 1024)
      .default(ARTIST_DEFAULTS.preview_max_bytes),
  })
  .refine((o) => o.sizes.includes(o.default_size), { message: "default_size must be one of sizes", path: ["default_size"] });
export type ArtistOptions = z.output<typeof ArtistOptions>;

export const artistBuiltin: BuiltinToolServer = {
  description: "generate_image: images from an OpenAI-compatible images endpoint (LiteLLM), stored in LYRA_MEDIA",
  start(ctx) {
    const o = parseOptions(ArtistOptions, ctx.server, ctx.options, "artist");
    if (o.api_key_file === undefined && !ctx.env[o.api_key_env])
      ctx.log.warn(`${o.api_key_env} is not set: generate_image will answer with an error until it is`);
    const input = z.strictObject({
      prompt: z
        .string()
        .trim()
        .min(1, "the prompt is empty; describe the image")
        .max(o.max_prompt_chars, `the prompt is over ${o.max_prompt_chars} characters; shorten it`)
        .describe("What the image shows, in detail: subject, style, composition, colours"),
      size: z
        .enum(o.sizes as [string, ...string[]])
        .default(o.default_size)
        .describe(`Width x height in pixels, one of ${o.sizes.join(", ")} (default ${o.default_size})`),
      n: z.int().min(1).max(o.max_n).default(1).describe(`How many images, 1 to ${o.max_n} (default 1)`),
    });
    return { create: () => artistServer(ctx, o, input) };
  },
};

function artistServer(ctx: BuiltinContext, o: ArtistOptions, input: z.ZodType<{ prompt: string; size: string; n: number }>): McpServer {
  const server = new McpServer({ name: "lyra-artist", version: "0.1.0" });
  server.registerTool(
    "generate_image",
    {
      description:
        "Generate images from a text prompt. The images are attached to your reply for the user automatically; " +
        "describe what you made in words, do not paste data.",
      inputSchema: input,
    },
    async ({ prompt, size, n }, mctx): Promise<CallToolResult> => {
      const client = await openaiClient(o, ctx.env);
      if (typeof client === "string") return failed(`generate_image is not available: ${client}`);
      let res;
      try {
        res = await client.images.generate(
          { model: o.model, prompt, n, size, response_format: "b64_json" },
          { signal: mctx.mcpReq.signal },
        );
      } catch (err) {
        return failed(`generate_image failed: ${await endpointError(err, "images", o, ctx.log)}`);
      }
      const data = res.data ?? [];
      if (data.length === 0)
        return failed("generate_image failed: the images endpoint answered with no image; try again, or change the prompt");
      const media: Media[] = [];
      const content: CallToolResult["content"] = [];
      for (const [i, d] of data.slice(0, n).entries()) {
        if (typeof d.b64_json !== "string" || d.b64_json.length === 0) {
          return failed(
            `generate_image failed: the images endpoint returned image ${i + 1} without b64_json${d.url ? " (it sent a URL)" : ""}; ` +
              `the operator must configure model '${o.model}' to return base64`,
          );
        }
        const bytes = Buffer.from(d.b64_json, "base64");
        if (bytes.length > o.max_image_bytes)
          return failed(
            `generate_image failed: image ${i + 1} is ${bytes.length} bytes, ` +
              `over this server's max_image_bytes (${o.max_image_bytes}); ask for a smaller size`,
          );
        const kind = trySniff(bytes);
        if (kind?.kind !== "image")
          return failed(
            `generate_image failed: image ${i + 1} from the images endpoint is ${kind ? kind.mime : "no image format Lyra knows"}, ` +
              `not a png, jpeg, gif or webp image`,
          );
        let m: Media;
        try {
          m = await putMedia(ctx.mesh, bytes, {
            placement: "store",
            maxAgeMs: o.media_max_age_ms,
            filename: `image-${i + 1}.${kind.mime.slice(6)}`,
          });
        } catch (err) {
          return failed(`generate_image failed: image ${i + 1} could not be stored in LYRA_MEDIA: ${(err as Error).message}`);
        }
        media.push(m);
        content.push(resourceLink(m, `image-${i + 1}`, d.revised_prompt ?? prompt));
        if (o.preview_max_bytes > 0 && bytes.length <= o.preview_max_bytes)
          content.push({ type: "image", data: d.b64_json, mimeType: m.mime });
      }
      const lines = media.map((m, i) => `image ${i + 1}: ${mediaLine(m)}`);
      const text =
        `Generated ${media.length} image${media.length > 1 ? "s" : ""} (${size}, model ${o.model}); ` +
        `${media.length > 1 ? "they are" : "it is"} attached to the reply.\n${lines.join("\n")}`;
      return {
        content: [{ type: "text", text }, ...content],
        structuredContent: { media, model: o.model, size, revised_prompts: data.slice(0, n).map((d) => d.revised_prompt ?? null) },
      };
    },
  );
  return server;
}
