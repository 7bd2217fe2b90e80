/**
 * `clock`: the small built-in tool server `lyra up` starts, so the demo shows a specialist using a
 * mesh tool end to end. Tools: `now` (the time in a time zone) and `wait` (sleeps, with progress
 * notifications; for trying cancellation and keep-alives).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";

const MAX_WAIT_S = 600;
// Building a formatter costs about 0.4 ms: keep one per time zone asked for.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { dateStyle: "full", timeStyle: "long", timeZone: tz });
    if (formatters.size < 512) formatters.set(tz, f);
  }
  return f;
}

// Built once: the SDK's per-request model builds a server per call, and a zod schema costs more
// to build than the call itself.
const NowInput = z.object({ timezone: z.string().max(64).optional().describe("IANA time zone name, e.g. 'America/New_York'") });
const WaitInput = z.object({ seconds: z.number().min(0).max(MAX_WAIT_S) });

export function clockServer(): McpServer {
  const server = new McpServer({ name: "lyra-clock", version: "0.1.0" });
  server.registerTool(
    "now",
    {
      description: "The current date and time. Give an IANA time zone such as 'Europe/Paris' or 'UTC' (default UTC).",
      inputSchema: NowInput,
    },
    async ({ timezone }) => {
      const tz = timezone ?? "UTC";
      let text: string;
      try {
        text = formatter(tz).format(new Date());
      } catch {
        return {
          content: [{ type: "text", text: `unknown time zone '${tz}': use an IANA name such as 'UTC' or 'Europe/Paris'` }],
          isError: true,
        };
      }
      return { content: [{ type: "text", text: `${text} (${tz})` }] };
    },
  );
  server.registerTool(
    "wait",
    {
      description: "Waits the given number of seconds (at most 600), reporting progress each second.",
      inputSchema: WaitInput,
    },
    async ({ seconds }, ctx) => {
      const token = ctx.mcpReq._meta?.progressToken;
      for (let i = 0; i < Math.ceil(seconds); i++) {
        // Rejects at once when the call is cancelled, even if the abort came while notifying.
        await sleep(Math.min(1, seconds - i) * 1000, undefined, { signal: ctx.mcpReq.signal });
        if (token !== undefined)
          await ctx.mcpReq.notify({
            method: "notifications/progress",
            params: { progressToken: token, progress: i + 1, total: Math.ceil(seconds) },
          });
      }
      return { content: [{ type: "text", text: `waited ${seconds} s` }] };
    },
  );
  return server;
}
