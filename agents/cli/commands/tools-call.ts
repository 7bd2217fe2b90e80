import { ToolsError, McpHeader, meshRequest, MetaKey, splitToolName, type JsonRpcResponse } from "../../../tools/index.ts";
import { defineCommand, intOption, UsageError } from "../command.ts";
import { openToolMesh, toolMeshHelp, toolMeshOptions } from "../tool-mesh.ts";

const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

export const toolsCall = defineCommand({
  name: "tools call",
  summary: "Send one tools/call over NATS and print its reply frames as they arrive (msg, ka, end, err).",
  usage: "SERVER TOOL [--args JSON] [--user NAME] [--for USER] [--conversation ID] [--timeout MS] [--no-claim] [--no-cache]",
  options: {
    ...toolMeshOptions,
    args: { type: "string", short: "a", default: "{}" },
    timeout: { type: "string" },
    "no-claim": { type: "boolean" },
    "no-cache": { type: "boolean" },
    for: { type: "string" },
    conversation: { type: "string" },
  },
  help: {
    ...toolMeshHelp,
    args: "the tool's arguments, a JSON object",
    timeout: "give up (and cancel) after this many ms (default: no limit; a silent server still ends the call after 3 missed keep-alives)",
    for:
      "the end user the call is for (lyra/user in _meta), " +
      "as an agent sets it from the conversation: memory reads and writes that user's memories",
    conversation: "the conversation the call is made in (lyra/conversation in _meta)",
    "no-claim": "refuse a result over max_payload (-32012) instead of fetching it from the claim-check store",
    "no-cache": "skip the tool host's result cache (lyra/noCache in _meta): the tool runs, and a cacheable result replaces the cached one",
  },
  details:
    "SERVER TOOL may also be written SERVER__TOOL. Exit status: 0 a result, 1 an error result (isError) or a\n" +
    "JSON-RPC error (code and message printed), 2 a usage error, 130 cancelled with Ctrl-C (sent on {reply}.ctl).\n" +
    'Example: lyra tools call clock now --args \'{"timezone":"Europe/Paris"}\'',
  async run(values, positionals) {
    const [server, tool] = target(positionals);
    const args = parseArgsJson(values.args as string);
    const timeoutMs = values.timeout === undefined ? undefined : intOption("timeout", values.timeout, 0) || undefined;
    await using tm = await openToolMesh(values, "lyra-tools-call");
    const scope = {
      ...(values.for !== undefined ? { [MetaKey.User]: values.for as string } : {}),
      ...(values.conversation !== undefined ? { [MetaKey.Conversation]: values.conversation as string } : {}),
      ...(values["no-cache"] ? { [MetaKey.NoCache]: true } : {}),
    };
    const req = meshRequest("tools/call", { name: tool, arguments: args }, { progressToken: 1, ...scope });
    const abort = new AbortController();
    const onSigint = () => abort.abort(new Error("Ctrl-C"));
    process.once("SIGINT", onSigint);
    let kas = 0;
    let terminalShown = false;
    let res: JsonRpcResponse;
    try {
      res = await tm.client.request(server, req, {
        signal: abort.signal,
        timeoutMs,
        acceptClaim: !values["no-claim"],
        onFrame: (frame, body, headers) => {
          if (frame === "ka") return void process.stdout.write(dim(`ka   #${++kas}`) + "\n");
          const claim = headers[McpHeader.Claim];
          if (frame === "end" && claim) return void process.stdout.write(`end  (claim-check ${claim}: fetching)\n`);
          if (frame === "end" || frame === "err") terminalShown = true;
          process.stdout.write(`${frame.padEnd(4)} ${body || "(empty)"}\n`);
        },
      });
    } catch (err) {
      if (err instanceof ToolsError && err.code === "cancelled") {
        process.stderr.write(`cancelled: ${err.message} (the server was told on {reply}.ctl)\n`);
        return 130;
      }
      throw err;
    } finally {
      process.off("SIGINT", onSigint);
    }
    // Local outcomes (no responders, timeout, a fetched claim) have no frame of their own.
    if (!terminalShown) process.stdout.write(`${"error" in res ? "err " : "end "} ${JSON.stringify(res)}\n`);
    if ("error" in res) {
      process.stderr.write(`error ${res.error.code}: ${res.error.message}\n`);
      return 1;
    }
    if (res.result.isError === true) {
      process.stderr.write(`tool '${tool}' on '${server}' returned an error result (isError)\n`);
      return 1;
    }
    return 0;
  },
});

function target(positionals: string[]): [string, string] {
  if (positionals.length === 1) {
    const q = splitToolName(positionals[0]!);
    if (q) return [q.server, q.tool];
  }
  if (positionals.length !== 2) {
    throw new UsageError(
      `name a server and a tool, e.g. 'lyra tools call clock now' ` +
        `(got ${positionals.length ? `'${positionals.join(" ")}'` : "nothing"}); ` +
        `'lyra tools ls' lists them`,
    );
  }
  const server = positionals[0]!;
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(server))
    throw new UsageError(
      `tool server '${server}' is not a subject token: use letters, digits, '-' (as in config tools.servers); 'lyra tools ls' lists them`,
    );
  return [server, positionals[1]!];
}

function parseArgsJson(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--args '${text}' is not JSON (${(err as Error).message}); give an object such as '{"timezone":"UTC"}'`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new UsageError(`--args '${text}' must be a JSON object such as '{"timezone":"UTC"}'`);
  return v as Record<string, unknown>;
}
