import { randomUUID } from "node:crypto";
import { userInfo } from "node:os";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import { rootTraceparent, traceIdOf } from "../../../mesh/telemetry.ts";
import { defineCommand, intOption, UsageError } from "../command.ts";
import { cliConnect, natsHelp, natsOption } from "../shared.ts";

export const ask = defineCommand({
  name: "ask",
  summary: "Send one message through the mesh (inbox → conductor → committee) and stream the reply.",
  usage: "[--conversation ID] [--json] [--timeout SECONDS] [--trace ID] MESSAGE",
  options: {
    ...natsOption,
    conversation: { type: "string", short: "c" },
    json: { type: "boolean" },
    timeout: { type: "string", default: "180" },
    trace: { type: "string" },
  },
  help: {
    ...natsHelp,
    conversation: "conversation id, to continue a conversation (default: a new one, printed)",
    json: "print the final reply as JSON instead of streaming text",
    timeout: "give up after this many seconds",
    trace: "W3C trace id (32 hex digits) or traceparent for this turn; every hop logs it (default: a new one, printed)",
  },
  async run(values, positionals) {
    const text = positionals.join(" ").trim();
    if (!text) throw new UsageError("say something: lyra ask \"what should I cook tonight?\"");
    const timeoutS = intOption("timeout", values.timeout, 180);
    const conversation = (values.conversation as string | undefined) ?? `cli-${randomUUID().slice(0, 8)}`;
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(conversation)) throw new UsageError(`--conversation '${conversation}' must be letters, digits, '_' or '-'`);
    let traceparent: string;
    try {
      traceparent = rootTraceparent(values.trace as string | undefined);
    } catch (err) {
      throw new UsageError(`--trace: ${(err as Error).message}`);
    }
    const mesh = await cliConnect(values, "lyra-ask");
    try {
      const id = `m${Date.now().toString(36)}${randomUUID().slice(0, 6)}`;
      const watch = watchReplies(mesh, "cli", conversation, id);
      await mesh.nc.flush();
      await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: userInfo().username || "cli" }, text, ts: Date.now() }, { traceparent });
      if (!values.json) process.stderr.write(`conversation ${conversation}\ntrace ${traceIdOf(traceparent)}\n`);
      const timer = setTimeout(() => void watch[Symbol.asyncDispose](), timeoutS * 1000);
      let lastStep: string | undefined;
      for await (const o of watch) {
        if (o.final) {
          clearTimeout(timer);
          if (values.json) process.stdout.write(JSON.stringify(o) + "\n");
          else process.stdout.write(`\n\nLyra: ${o.text}\n`);
          return o.error ? 1 : 0;
        }
        if (values.json) continue;
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
