import { randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { basename, join } from "node:path";
import {
  publishInbox,
  watchReplies,
  readConversation,
  rootTraceparent,
  traceIdOf,
  putMedia,
  readMedia,
  type Mesh,
} from "../../../mesh/index.ts";
import { INLINE_MEDIA_MAX_BYTES, type Media, type OutboxMessage } from "../../../schemas/index.ts";
import { defineCommand, intOption, UsageError } from "../command.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";
import { formatTurnSummary, summarizeTurn } from "../turn-summary.ts";

export const ask = defineCommand({
  name: "ask",
  summary: "Send one message through the mesh (inbox → conductor → committee) and stream the reply.",
  usage: "[--conversation ID] [--image FILE]... [--save DIR] [--json] [--no-cache] [--timeout SECONDS] [--trace ID] MESSAGE",
  options: {
    ...natsOption,
    conversation: { type: "string", short: "c" },
    json: { type: "boolean" },
    timeout: { type: "string", default: "180" },
    trace: { type: "string" },
    image: { type: "string", multiple: true },
    save: { type: "string" },
    "no-cache": { type: "boolean" },
  },
  help: {
    ...natsHelp,
    conversation: "conversation id, to continue a conversation (default: a new one, printed)",
    json: "print the final reply as JSON (with the turn's steps and tools as 'figures') instead of streaming text",
    timeout: "give up after this many seconds",
    trace: "W3C trace id (32 hex digits) or traceparent for this turn; every hop logs it (default: a new one, printed)",
    image: "send an image with the message (png, jpeg, gif, webp; repeatable); large ones go by LYRA_MEDIA reference",
    save: "write the reply's images and audio into this directory",
    "no-cache": "answer afresh: every role call of the turn bypasses the response cache (roles.<role>.cache)",
  },
  async run(values, positionals) {
    const text = positionals.join(" ").trim();
    if (!text) throw new UsageError('say something: lyra ask "what should I cook tonight?"');
    const timeoutS = intOption("timeout", values.timeout, 180);
    const conversation = (values.conversation as string | undefined) ?? `cli-${randomUUID().slice(0, 8)}`;
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(conversation))
      throw new UsageError(`--conversation '${conversation}' must be letters, digits, '_' or '-'`);
    let traceparent: string;
    try {
      traceparent = rootTraceparent(values.trace as string | undefined);
    } catch (err) {
      throw new UsageError(`--trace: ${(err as Error).message}`);
    }
    const mesh = await cliConnect(values, "lyra-ask");
    try {
      const media = await attach(mesh, (values.image as string[] | undefined) ?? []);
      const id = `m${Date.now().toString(36)}${randomUUID().slice(0, 6)}`;
      const watch = watchReplies(mesh, "cli", conversation, id);
      await mesh.nc.flush();
      await publishInbox(
        mesh,
        {
          id,
          channel: "cli",
          conversation,
          user: { id: userInfo().username || "cli" },
          text,
          ts: Date.now(),
          ...(media.length ? { media } : {}),
          ...(values["no-cache"] ? { cache: "bypass" as const } : {}),
        },
        { traceparent },
      );
      if (!values.json) process.stderr.write(`conversation ${conversation}\ntrace ${traceIdOf(traceparent)}\n`);
      const timer = setTimeout(() => void watch[Symbol.asyncDispose](), timeoutS * 1000);
      let lastStep: string | undefined;
      for await (const o of watch) {
        if (o.final) {
          clearTimeout(timer);
          // The outbox carries the text; the log carries what each step cost (its final chunk's usage and timings).
          const figures = summarizeTurn(await readConversation(mesh, conversation), id);
          if (values.json) process.stdout.write(JSON.stringify({ ...o, figures }) + "\n");
          else process.stdout.write(`\n\nLyra: ${o.text}\n${mediaLines(o)}\n${formatTurnSummary(figures).join("\n")}\n`);
          if (typeof values.save === "string") await save(mesh, o, values.save);
          return o.error ? 1 : 0;
        }
        // The pipelined voice streams while the specialist still writes: once the voice has begun, only its text is printed.
        if (values.json || (lastStep === "voice" && o.step !== "voice")) continue;
        if (o.step !== lastStep) process.stdout.write(`\n[${o.role ?? o.step}] `);
        lastStep = o.step;
        process.stdout.write(o.text);
      }
      clearTimeout(timer);
      process.stderr.write(`\nno reply within ${timeoutS}s: is 'lyra core' running? ('lyra status' shows the agents)\n`);
      return 1;
    } finally {
      await mesh.close();
    }
  },
});

/**
 * The files given with --image, as Media items (sniffed: only images are sent). Inline only while
 * all of them together stay under the inline limit, so the inbox message stays far below max_payload.
 */
async function attach(mesh: Mesh, files: string[]): Promise<Media[]> {
  const contents = await Promise.all(
    files.map((f) =>
      readFile(f).catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`--image ${f}: cannot read it (${err.code ?? err.message})`);
      }),
    ),
  );
  const placement = contents.reduce((n, b) => n + b.length, 0) > INLINE_MEDIA_MAX_BYTES ? "store" : "auto";
  return Promise.all(
    files.map(async (f, i) => {
      const bytes = contents[i]!;
      const m = await putMedia(mesh, bytes, { filename: basename(f), placement }).catch((err: Error) => {
        throw new UsageError(`--image ${f}: ${err.message}`);
      });
      if (m.kind !== "image") throw new UsageError(`--image ${f}: it is ${m.mime}, not an image`);
      return m;
    }),
  );
}

function mediaLines(o: OutboxMessage): string {
  return (o.media ?? []).map((m) => `[${m.kind}: ${m.mime}, ${m.size} bytes${m.object ? `, ${m.object}` : ""}]\n`).join("");
}

async function save(mesh: Mesh, o: OutboxMessage, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [i, m] of (o.media ?? []).entries()) {
    const name = m.filename && !/^\.+$/.test(m.filename) ? m.filename : `${m.kind}-${i + 1}`;
    const path = join(dir, name);
    await writeFile(path, await readMedia(mesh, m));
    process.stderr.write(`saved ${path}\n`);
  }
}
