/**
 * Model `lyra/<role>`: one role called directly with the role-call client, like any OpenAI model:
 * the request's messages are the whole context (no conversation log), its sampling options the
 * role's options.
 */
import {
  type RoleClient,
  BadRequestError,
  BusyError,
  CancelledError,
  ConnectionClosedError,
  DeadlineExceededError,
  RoleCallError,
  UnavailableError,
} from "../../../mesh/index.ts";
import {
  PayloadTooLargeError,
  responseText,
  type ChatMessage,
  type Chunk,
  type FinalInfo,
  type RoleRequest,
} from "../../../schemas/index.ts";
import { badRequest, ErrorType, OpenAIError, payloadTooLarge, unavailable } from "./errors.ts";
import { contentText, type ChatCompletionRequest } from "./request.ts";

export type RoleEvent = { type: "delta"; text: string } | { type: "final"; final: FinalInfo };

/** The role request for an OpenAI request; `conversation` and `user` are the mesh's (the tenant's) ids. */
export function roleRequest(req: ChatCompletionRequest, conversation: string | undefined, user: string | undefined): RoleRequest {
  const messages: ChatMessage[] = req.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: contentText(m.content),
    ...(m.role === "tool" ? { tool_call_id: m.tool_call_id } : {}),
  }));
  const stop = typeof req.stop === "string" ? [req.stop] : (req.stop ?? undefined);
  const options = Object.fromEntries(
    Object.entries({
      temperature: req.temperature,
      top_p: req.top_p,
      max_tokens: req.max_completion_tokens ?? req.max_tokens,
      seed: req.seed,
      stop,
    }).filter(([, v]) => v !== null && v !== undefined),
  );
  return { messages, options, ...(conversation ? { conversation } : {}), ...(user ? { user } : {}) };
}

/**
 * Calls the role; resolves once it has acknowledged (its first chunk), so no-responders and
 * refusals become HTTP errors rather than a broken stream, with the text deltas and the final
 * info still to come. Iterate the result to its end or call its return() (that cancels the call).
 */
export async function startRole(
  client: RoleClient,
  role: string,
  request: RoleRequest,
  o: { signal: AbortSignal; timeoutMs: number },
): Promise<AsyncGenerator<RoleEvent>> {
  const stream = client.stream(role, request, { signal: o.signal, timeoutMs: o.timeoutMs, conversation: request.conversation });
  const chunks = stream[Symbol.asyncIterator]();
  let first: IteratorResult<Chunk>;
  try {
    first = await chunks.next();
  } catch (err) {
    throw asOpenAIError(err, role);
  }
  return (async function* (): AsyncGenerator<RoleEvent> {
    try {
      for (let c = first; !c.done; c = await chunks.next()) {
        if (c.value.type !== "response") continue;
        const text = responseText(c.value);
        if (text) yield { type: "delta", text };
      }
      yield { type: "final", final: (await stream.result).final };
    } catch (err) {
      throw asOpenAIError(err, role);
    } finally {
      await chunks.return?.();
    }
  })();
}

/** A role call's failure as the HTTP error a client should see. */
export function asOpenAIError(err: unknown, role: string): unknown {
  if (err instanceof OpenAIError || !(err instanceof Error)) return err;
  // Cancelled by the server's drain: its reason is the error to send.
  if (err instanceof CancelledError && err.cause instanceof OpenAIError) return err.cause;
  if (err instanceof PayloadTooLargeError) return payloadTooLarge(err);
  if (err instanceof UnavailableError)
    return unavailable(`no agent serves role '${role}' right now (${err.message}); 'lyra status' shows the mesh`, "no_responders", err);
  if (err instanceof DeadlineExceededError) return unavailable(`role '${role}' did not answer in time: ${err.message}`, "timeout", err);
  if (err instanceof BusyError)
    return new OpenAIError(429, ErrorType.RateLimit, `role '${role}' is busy: ${err.message}`, {
      code: "role_busy",
      retryAfterS: Math.max(1, Math.ceil(err.retryAfterS ?? 1)),
      cause: err,
    });
  if (err instanceof BadRequestError) return badRequest(`role '${role}' refused the request: ${err.message}`, "messages", "role_refused");
  if (err instanceof ConnectionClosedError) return unavailable(`the mesh connection is closed: ${err.message}`, "mesh_unavailable", err);
  if (err instanceof RoleCallError) return new OpenAIError(500, ErrorType.Server, err.message, { code: err.code, cause: err });
  return err;
}
