/** The compute MCP server: `python` (sandboxed, optionally per-conversation sessions) and `calculate` (exact, no code). */
import { McpServer, type CallToolResult } from "@modelcontextprotocol/server";
import { z } from "zod";
import { MetaKey } from "../../wire.ts";
import { MAX_EXPRESSION_CHARS } from "./calc/evaluate.ts";
import type { Calculator } from "./calc/pool.ts";
import type { ComputeOptions } from "./options.ts";
import type { RunOutcome, Sandbox } from "./sandbox.ts";
import type { SessionPool } from "./sessions.ts";

export const MAX_CODE_CHARS = 100_000;

const PythonInput = z.object({
  code: z
    .string()
    .min(1, "the code is empty; write the Python to run")
    .max(MAX_CODE_CHARS)
    .describe("Python 3 source; the value of a final expression is shown, print() output too"),
  reset: z.boolean().optional().describe("start a fresh session, forgetting earlier variables (sessions only)"),
});
const CalculateInput = z.object({
  expression: z
    .string()
    .trim()
    .min(1, "the expression is empty; write something like '2^64' or '5 km to mi'")
    .max(MAX_EXPRESSION_CHARS)
    .describe("e.g. '0.1 + 0.2', '2^128', '30!', '5 km to mi', '100 degC to degF', '1 GiB to MB'"),
});

/** What the server shares between requests. */
export interface ComputeDeps {
  o: ComputeOptions;
  /** Why python must refuse (no bwrap, failed self-test); undefined when the sandbox works. Read per call. */
  refusal(): string | undefined;
  sessions?: SessionPool;
  /** Starts a one-shot sandbox (startSandbox with the server's cgroup). */
  start(): Sandbox;
  /** Waits for one of max_concurrent slots; the returned function frees it. */
  slot(signal?: AbortSignal): Promise<() => void>;
  /** `calculate`, in a worker thread with a time limit. */
  calc: Calculator;
  /** One-shot sandboxes running now, so that closing the server kills them. */
  live: Set<Sandbox>;
}

const fail = (text: string): CallToolResult => ({ content: [{ type: "text", text }], isError: true });

function toResult(r: RunOutcome, session: { started: boolean } | undefined): CallToolResult {
  const parts: string[] = [];
  if (session?.started) parts.push("[new Python session for this conversation]");
  if (r.output) parts.push(r.output.replace(/\n$/, ""));
  if (r.ok) {
    if (r.value !== undefined) parts.push(r.value);
    if (parts.length === (session?.started ? 1 : 0)) parts.push("(no output)");
    return { content: [{ type: "text", text: parts.join("\n") }] };
  }
  parts.push(r.error?.replace(/\n$/, "") ?? "the code failed");
  if (r.ended && session) parts.push("[the session was ended: its variables are lost; the next call starts a new one]");
  return fail(parts.join("\n"));
}

export function computeServer(d: ComputeDeps): McpServer {
  const server = new McpServer({ name: "lyra-compute", version: "0.1.0" });
  const limits = `${d.o.cpu_s} s CPU, ${d.o.wall_s} s wall time, ${d.o.memory_mb} MiB memory, ${d.o.max_output_bytes} bytes of output`;
  server.registerTool(
    "python",
    {
      description:
        `Runs Python 3 code in a sandbox (no network, no files but a private /tmp of ${d.o.tmp_mb} MiB; ${limits} per call) ` +
        `and returns what it prints and the value of its last expression. ` +
        (d.sessions
          ? "Variables are kept between calls in this conversation (reset: true starts afresh)."
          : "Each call starts fresh: nothing is kept between calls."),
      inputSchema: PythonInput,
    },
    async ({ code, reset }, ctx) => {
      const refusal = d.refusal();
      if (refusal) return fail(`python is unavailable on this host: ${refusal}. Code is never run outside the sandbox.`);
      const release = await d.slot(ctx.mcpReq.signal);
      // A one-shot sandbox's slot is freed once its processes are gone, not when the answer is:
      // the next call's sandbox never overlaps a dying one (memory_total_mb counts both).
      let gone: Promise<void> | undefined;
      try {
        const meta = ctx.mcpReq._meta;
        const conversation = meta?.[MetaKey.Conversation];
        if (d.sessions && typeof conversation === "string" && conversation) {
          const user = typeof meta?.[MetaKey.User] === "string" ? (meta[MetaKey.User] as string) : "";
          const r = await d.sessions.run(`${user}\u0000${conversation}`, code, { fresh: reset, signal: ctx.mcpReq.signal });
          return toResult(r, r);
        }
        const box = d.start();
        d.live.add(box);
        try {
          return toResult(await box.run(code, ctx.mcpReq.signal), undefined);
        } finally {
          box.kill();
          gone = box.exited.then(() => void d.live.delete(box));
        }
      } finally {
        if (gone) void gone.then(release);
        else release();
      }
    },
  );
  server.registerTool(
    "calculate",
    {
      description:
        "Exact arithmetic and unit conversion, without running code: " +
        "fractions stay exact (0.1 + 0.2 = 0.3), integers have no size limit short of 12,000 digits. " +
        "Operators + - * / // % ^ !, functions abs floor ceil round sqrt gcd lcm min max, " +
        "and 'to UNIT' (e.g. '5 km to mi', '100 degC to degF', '1 km/h to m/s').",
      inputSchema: CalculateInput,
    },
    async ({ expression }) => {
      const r = await d.calc.run(expression);
      return "text" in r
        ? { content: [{ type: "text", text: r.text }] }
        : fail(`cannot calculate '${expression.slice(0, 80)}': ${r.error}`);
    },
  );
  return server;
}
