/**
 * `POST /v1/chat/completions`: a validated request becomes a committee turn (model `lyra`) or a
 * role call (`lyra/<role>`), answered as one `chat.completion` or as SSE `chat.completion.chunk`s
 * ended by `data: [DONE]`.
 */
import type { RoleClient } from "../../../mesh/index.ts";
import type { Committee } from "./committee-model.ts";
import type { Models } from "./models.ts";
import type { Caller } from "./access.ts";
import { conversationOf, headerName, newUserMessage, scoped, userOf } from "./conversation.ts";
import { OpenAIError } from "./errors.ts";
import { chunk, completion, estimateTokens, usage, usageChunk, type FinishReason, type Usage } from "./format.ts";
import type { ChatCompletionRequest } from "./request.ts";
import { roleRequest, startRole } from "./role.ts";
import type { RecordUsage } from "./usage.ts";

/** What one answer is, whichever path produced it. */
interface Answer {
  id: string;
  /** Text deltas as they come; when it ends, `done()` tells the rest. */
  deltas: AsyncIterable<string>;
  done(): { text: string; finish: FinishReason; usage: Usage; lyra: Record<string, unknown> };
  headers: Record<string, string>;
}

export interface ChatDeps {
  committee: Committee;
  roles: RoleClient;
  /** The models offered (`lyra/<role>` for which roles). */
  models: Models;
  timeoutMs: number;
  /** Records each answered direct role call's usage (the committee's turns are in the log already); default none. */
  recordUsage?: RecordUsage;
}

/** The request's target, or a 404 naming the models there are. */
export async function targetOf(model: string, models: Models): Promise<{ role?: string }> {
  if (model === "lyra") return {};
  const role = model.startsWith("lyra/") ? model.slice(5) : undefined;
  if (role && (await models.hasRole(role))) return { role };
  return notFound(model);
}

function notFound(model: string): never {
  throw new OpenAIError(
    404,
    "invalid_request_error",
    `The model '${model}' does not exist: use 'lyra' (the committee) or 'lyra/<role>' (GET /v1/models lists them)`,
    { param: "model", code: "model_not_found" },
  );
}

/** Starts the answer: everything that can fail with an HTTP status fails here. */
export async function startAnswer(
  deps: ChatDeps,
  req: ChatCompletionRequest,
  o: { caller: Caller; conversationHeader: string | undefined; signal: AbortSignal; cacheControl?: string | undefined },
): Promise<Answer> {
  const { role } = await targetOf(req.model, deps.models);
  const opts = { signal: o.signal, timeoutMs: deps.timeoutMs };
  const tenant = o.caller.tenant;
  // Cache-Control: no-cache (or no-store) asks for a fresh answer: the response cache is bypassed.
  const bypass = /\bno-(cache|store)\b/i.test(o.cacheControl ?? "") ? { cache: "bypass" as const } : {};
  if (role === undefined) {
    const conv = conversationOf(o.conversationHeader, req.user, req.messages, tenant);
    const conversation = conv.id;
    const { id, text } = newUserMessage(conversation, req.messages);
    const events = await deps.committee.start(
      { id, conversation, user: { id: userOf(req.user, tenant) }, text, ts: Date.now(), ...bypass },
      opts,
    );
    let streamed = "";
    let final: { text: string; specialist?: string; error?: string } | undefined;
    return {
      id: `chatcmpl-${id}`,
      headers: { "X-Lyra-Conversation": conv.name, "X-Lyra-Mesh-Conversation": conversation, "X-Lyra-Message-Id": id },
      deltas: (async function* () {
        for await (const e of events) {
          if (e.type === "delta") {
            streamed += e.text;
            yield e.text;
            continue;
          }
          final = e.reply;
          // The stored reply is the truth: send what the stream has not (all of it when the voice
          // failed and the reply is the specialist's draft, after a break).
          const rest = e.reply.text.startsWith(streamed) ? e.reply.text.slice(streamed.length) : `${streamed ? "\n\n" : ""}${e.reply.text}`;
          if (rest) yield rest;
        }
      })(),
      done: () => ({
        text: final!.text,
        finish: "stop",
        usage: usage(estimateTokens(text), estimateTokens(final!.text)),
        lyra: {
          conversation: conv.name,
          mesh_conversation: conversation,
          message_id: id,
          specialist: final!.specialist,
          ...(final!.error ? { error: final!.error } : {}),
          usage: "estimated",
        },
      }),
    };
  }
  const name = headerName(o.conversationHeader);
  // The user is always the key's tenant's (its default user without a `user` field), as on the committee path:
  // the response cache keeps answers per user, and a body can only name a user within its tenant.
  const request = { ...roleRequest(req, name === undefined ? undefined : scoped(tenant, name), userOf(req.user, tenant)), ...bypass };
  const events = await startRole(deps.roles, role, request, opts);
  const requestId = crypto.randomUUID().replaceAll("-", "");
  const user = userOf(req.user, tenant);
  let text = "";
  let info: import("../../../schemas/index.ts").FinalInfo | undefined;
  return {
    id: `chatcmpl-${requestId}`,
    headers: {},
    deltas: (async function* () {
      for await (const e of events) {
        if (e.type === "delta") {
          text += e.text;
          yield e.text;
        } else info = e.final;
      }
      if (info) await deps.recordUsage?.({ requestId, user, conversation: request.conversation, role, final: info });
    })(),
    done: () => ({
      text,
      finish: info!.done_reason === "length" ? "length" : "stop",
      usage: usage(info!.usage.prompt_tokens, info!.usage.completion_tokens),
      lyra: {
        role,
        host: info!.host,
        backend: info!.backend,
        model: info!.model,
        ...(info!.fallback ? { fallback: info!.fallback } : {}),
        ...(info!.cache ? { cache: info!.cache } : {}),
      },
    }),
  };
}

/** The whole answer as one `chat.completion`. */
export async function completeAnswer(a: Answer, model: string) {
  for await (const _ of a.deltas) {
    // collected by the answer itself
  }
  const d = a.done();
  return completion(a.id, model, Math.floor(Date.now() / 1000), d.text, d.finish, d.usage, d.lyra);
}

/** How often an SSE comment goes out while nothing else does, so proxies keep the stream open, ms. */
const SSE_KEEPALIVE_MS = 15_000;

/**
 * The answer as an SSE body: a first chunk with the role, content deltas, a chunk with the finish
 * reason, the usage chunk when asked, `data: [DONE]`. A failure after the start is sent as an
 * `error` event in OpenAI's error shape (clients raise it), then the stream ends.
 */
export function streamAnswer(a: Answer, model: string, includeUsage: boolean, onEnd: (err?: unknown) => void): ReadableStream<Uint8Array> {
  const created = Math.floor(Date.now() / 1000);
  const enc = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      let last = performance.now();
      // Events made in one turn of the event loop go out in one write (the last delta, the finish
      // chunk, the usage and [DONE] usually do).
      let pending = "";
      const flush = () => {
        const text = pending;
        pending = "";
        if (!text) return;
        try {
          controller.enqueue(enc.encode(text));
        } catch {
          // cancelled by the client
        }
      };
      const send = (v: unknown) => {
        last = performance.now();
        if (!pending) setImmediate(flush);
        pending += `data: ${typeof v === "string" ? v : JSON.stringify(v)}\n\n`;
      };
      const ka = setInterval(() => {
        if (performance.now() - last < SSE_KEEPALIVE_MS) return;
        last = performance.now();
        pending += ": keep-alive\n\n";
        flush();
      }, SSE_KEEPALIVE_MS / 3);
      void (async () => {
        let failure: unknown;
        try {
          send(chunk(a.id, model, created, { role: "assistant", content: "" }, includeUsage));
          for await (const text of a.deltas) send(chunk(a.id, model, created, { content: text }, includeUsage));
          const d = a.done();
          // The headers went out before the answer: a role's response cache outcome rides on the finish chunk.
          const lyra = d.lyra.cache === undefined ? {} : { lyra: { cache: d.lyra.cache } };
          send(chunk(a.id, model, created, { finish: d.finish, ...lyra }, includeUsage));
          if (includeUsage) send(usageChunk(a.id, model, created, d.usage));
          send("[DONE]");
        } catch (err) {
          failure = err;
          const e =
            err instanceof OpenAIError ? err : new OpenAIError(500, "server_error", "the answer failed; the server log has the details");
          send(e.body());
        } finally {
          clearInterval(ka);
          flush();
          try {
            controller.close();
          } catch {
            // cancelled by the client
          }
          onEnd(failure);
        }
      })();
    },
  });
}
