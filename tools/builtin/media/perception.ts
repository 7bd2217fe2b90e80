/**
 * `perception`: the `describe_image` tool, so any specialist (most cannot see) can ask about an
 * image. It calls the mesh's vision role (`perception` by default) with a role call whose user
 * turn carries the image by LYRA_MEDIA reference: the agent serving that role fetches the bytes and
 * gives them to its model. The tool server needs no GPU and no Ollama, the role's queue, slots,
 * fallback and replicas apply, and no image bytes travel in the tool call or the role request.
 */
import { McpServer, type CallToolResult } from "@modelcontextprotocol/server";
import { z } from "zod";
import { MEDIA_URI_PREFIX, statMedia, createRoleClient, MeshError, UnavailableError, type RoleClient } from "../../../mesh/index.ts";
import { RoleName } from "../../../schemas/index.ts";
import { MetaKey } from "../../wire.ts";
import type { BuiltinContext, BuiltinToolServer } from "../index.ts";
import { failed, parseOptions } from "./common.ts";

export const PERCEPTION_DEFAULTS = {
  role: "perception",
  timeout_ms: 120_000,
  max_question_chars: 2000,
  default_question: "Describe this image in detail: what it shows, any text in it, and anything unusual.",
} as const;

const PerceptionOptions = z.strictObject({
  /** The vision role to ask (roles.<role>.vision: true). */
  role: RoleName.default(PERCEPTION_DEFAULTS.role),
  timeout_ms: z.int().min(1000).max(600_000).default(PERCEPTION_DEFAULTS.timeout_ms),
  max_question_chars: z.int().min(10).max(32_000).default(PERCEPTION_DEFAULTS.max_question_chars),
  default_question: z.string().min(1).max(2000).default(PERCEPTION_DEFAULTS.default_question),
});
export type PerceptionOptions = z.output<typeof PerceptionOptions>;

const REF = new RegExp(`^(${MEDIA_URI_PREFIX})?image/[0-9a-f]{64}$`);

export const perceptionBuiltin: BuiltinToolServer = {
  description: "describe_image: asks the mesh's vision role about an image stored in LYRA_MEDIA",
  start(ctx) {
    const o = parseOptions(PerceptionOptions, ctx.server, ctx.options, "perception");
    const input = z.strictObject({
      image: z
        .string()
        .max(200)
        .regex(
          REF,
          "is not an image reference; give the reference the conversation shows, " +
            "'image/' followed by 64 hex digits (or its lyra-media: link)",
        )
        .describe("The image's reference, e.g. image/3f5a… (64 hex digits), as shown with the user's attachment or a generated image"),
      question: z
        .string()
        .trim()
        .min(1, "the question is empty; ask something, or leave it out for a description")
        .max(o.max_question_chars, `the question is over ${o.max_question_chars} characters; shorten it`)
        .optional()
        .describe("What to ask about the image (default: a detailed description)"),
    });
    const roles = createRoleClient(ctx.mesh);
    return { create: () => perceptionServer(ctx, o, input, roles), close: () => roles.close() };
  },
};

function perceptionServer(
  ctx: BuiltinContext,
  o: PerceptionOptions,
  input: z.ZodType<{ image: string; question?: string }>,
  roles: RoleClient,
): McpServer {
  const server = new McpServer({ name: "lyra-perception", version: "0.1.0" });
  server.registerTool(
    "describe_image",
    {
      description: "Look at an image the user sent (or one generated earlier) and answer a question about it. Give the image's reference.",
      inputSchema: input,
    },
    async ({ image, question }, mctx): Promise<CallToolResult> => {
      let media;
      try {
        media = await statMedia(ctx.mesh, image);
      } catch (err) {
        if (err instanceof MeshError) return failed(`describe_image failed: ${err.message}`);
        return failed(`describe_image failed: the image could not be read from LYRA_MEDIA (${(err as Error).message}); try again later`);
      }
      if (!media)
        return failed(
          `describe_image failed: image ${image} is not in LYRA_MEDIA (it expired, or was never stored); ask the user to send it again`,
        );
      if (media.kind !== "image") return failed(`describe_image failed: ${image} holds ${media.mime}, not an image`);
      const meta = mctx.mcpReq._meta ?? {};
      const conversation = typeof meta[MetaKey.Conversation] === "string" ? (meta[MetaKey.Conversation] as string) : undefined;
      const user = typeof meta[MetaKey.User] === "string" ? (meta[MetaKey.User] as string) : undefined;
      try {
        const r = await roles.call(
          o.role,
          {
            messages: [{ role: "user", content: question ?? o.default_question, media: [media] }],
            ...(conversation ? { conversation } : {}),
            ...(user ? { user } : {}),
          },
          { signal: mctx.mcpReq.signal, timeoutMs: o.timeout_ms },
        );
        return {
          content: [{ type: "text", text: r.text }],
          structuredContent: { answer: r.text, role: o.role, model: r.final.model, host: r.host, image: media.object },
        };
      } catch (err) {
        if (err instanceof UnavailableError) {
          return failed(
            `describe_image is unavailable: the vision role '${o.role}' cannot answer now (${err.message}); ` +
              `if no agent serves it, the operator must run one whose host has roles.${o.role} (with vision: true)`,
          );
        }
        ctx.log.info({ err, role: o.role }, "describe_image: the vision role failed");
        return failed(`describe_image failed: the vision role '${o.role}' answered with an error: ${(err as Error).message}`);
      }
    },
  );
  return server;
}
