/**
 * Runs a role handler in this process and presents it as a role stream: the conductor's
 * fallback for roles no agent serves (the handler over the LiteLLM backend).
 */
import { responseText, CallCode, type Chunk, type FinalInfo, type RoleRequest, type ToolCall } from "../../schemas/index.ts";
import {
  type RoleCaller,
  type RoleCallOptions,
  type RoleResult,
  type RoleStream,
  DEFAULT_CALL_TIMEOUT_MS,
  type RoleHandler,
  type Logger,
  UnavailableError,
} from "../../mesh/index.ts";

export function localCaller(handlers: Map<string, RoleHandler>, host: string, log: Logger): RoleCaller {
  return {
    serves: (role) => handlers.has(role),
    stream(role: string, req: RoleRequest, opts: RoleCallOptions = {}): RoleStream {
      const handler = handlers.get(role);
      const signal = opts.signal ?? new AbortController().signal;
      let resolve!: (r: RoleResult) => void;
      let reject!: (e: unknown) => void;
      const result = new Promise<RoleResult>((res, rej) => ((resolve = res), (reject = rej)));
      result.catch(() => undefined); // consumers that only iterate still see the error there
      async function* run(): AsyncGenerator<Chunk> {
        try {
          if (!handler) throw new UnavailableError(CallCode.Unavailable, role, "no agent serves this role and it has no fallback alias");
          let text = "";
          let final: FinalInfo | undefined;
          const toolCalls: ToolCall[] = [];
          const ctx = {
            requestId: opts.requestId ?? "local",
            conversation: opts.conversation,
            deadline: Date.now() + (opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS),
            stream: true,
            signal,
            log: log.child({ role, fallback: true }),
            headers: undefined,
          };
          for await (const c of handler(req, ctx)) {
            if (c.type === "response") text += responseText(c);
            else if (c.type === "tool_call") toolCalls.push(c.data);
            else if (c.type === "final") final = c.data;
            yield c;
          }
          resolve({
            text,
            final: final ?? {
              model: "unknown",
              backend: "unknown",
              host,
              usage: { prompt_tokens: 0, completion_tokens: 0 },
              timings: { total_ms: 0 },
            },
            toolCalls,
            host,
            attempts: 1,
          });
        } catch (err) {
          reject(err);
          throw err;
        }
      }
      return Object.assign(run(), { result });
    },
  };
}
