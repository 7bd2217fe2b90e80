/**
 * The routes of `lyra serve` and what answers a failure: an OpenAIError becomes its status and
 * body, anything else a 500 whose details stay in the server log.
 */
import type { HttpBindings } from "@hono/node-server";
import type { Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger, Readiness } from "../../../mesh/index.ts";
import type { Caller, Keys, RateLimiter } from "./access.ts";
import { completeAnswer, startAnswer, streamAnswer, type ChatDeps } from "./chat.ts";
import { CONVERSATION_HEADER } from "./conversation.ts";
import { parseJson, readBody, requireJson } from "./body.ts";
import { clientClosed, ErrorType, OpenAIError, unavailable } from "./errors.ts";
import { modelList, modelObject } from "./format.ts";
import type { FrontdoorMetrics } from "../metrics.ts";
import { DOOR, outcomeOf } from "./metrics.ts";
import { parseChatRequest } from "./request.ts";

export type Env = { Bindings: HttpBindings; Variables: { caller: Caller } };

/** The requests being answered; drain() waits for them. */
export interface InFlight {
  /** Counts a request in; the returned function counts it out. */
  track(): () => void;
  size(): number;
  settled(): Promise<void>;
}

export function inFlight(): InFlight {
  const running = new Set<Promise<void>>();
  return {
    track() {
      let settle!: () => void;
      const tracked = new Promise<void>((r) => (settle = r));
      running.add(tracked);
      return () => {
        running.delete(tracked);
        settle();
      };
    },
    size: () => running.size,
    settled: async () => void (await Promise.allSettled([...running])),
  };
}

function fail(c: Context, err: OpenAIError) {
  if (err.retryAfterS !== undefined) c.header("Retry-After", String(err.retryAfterS));
  // 499 goes to a closed connection: any status would do, node takes it as it is.
  return c.json(err.body(), err.status as ContentfulStatusCode);
}

/** Failures, unknown URLs and methods other than POST on the completions route. */
export function errorRoutes(app: Hono<Env>, log: Logger, metrics: FrontdoorMetrics): void {
  app.onError((err, c) => {
    const e =
      err instanceof OpenAIError
        ? err
        : new OpenAIError(500, ErrorType.Server, "internal error; the server log has the details", { code: "internal_error" });
    if (!(err instanceof OpenAIError)) log.error({ err }, "request failed");
    return fail(c, e);
  });
  app.notFound(
    (c) => (
      metrics.requests.inc({ door: DOOR, outcome: "not_found" }),
      fail(
        c,
        new OpenAIError(
          404,
          ErrorType.InvalidRequest,
          `Invalid URL (${c.req.method} ${new URL(c.req.url).pathname}): lyra serve has POST /v1/chat/completions, GET /v1/models`,
          { code: "unknown_url" },
        ),
      )
    ),
  );
}

/** The routes that need no key (/healthz, /readyz, /metrics), the key check of /v1, and /v1/models. */
export function openRoutes(
  app: Hono<Env>,
  d: {
    metrics: FrontdoorMetrics;
    keys: Keys;
    models: ChatDeps["models"];
    started: number;
    draining: () => boolean;
    /** What /readyz answers. */
    ready: () => Readiness;
  },
): void {
  app.get("/healthz", (c) => c.text(d.draining() ? "draining\n" : "ok\n", d.draining() ? 503 : 200));
  app.get("/readyz", (c) => {
    const r = d.ready();
    return c.json(r, r.ready ? 200 : 503);
  });
  app.get("/metrics", async (c) => c.body(await d.metrics.registry.metrics(), 200, { "Content-Type": d.metrics.registry.contentType }));
  app.use("/v1/*", async (c, next) => {
    try {
      if (d.draining()) throw unavailable("lyra serve is shutting down; try again shortly", "shutting_down");
      c.set("caller", d.keys.check(c.req.header("authorization")));
    } catch (err) {
      d.metrics.requests.inc({ door: DOOR, outcome: outcomeOf((err as OpenAIError).status) });
      throw err;
    }
    await next();
  });
  app.get("/v1/models", async (c) => c.json(modelList(await d.models.ids(), d.started)));
  app.get("/v1/models/:id{.+}", async (c) => {
    const id = c.req.param("id");
    if (id !== "lyra" && !(id.startsWith("lyra/") && (await d.models.hasRole(id.slice(5)))))
      throw new OpenAIError(404, ErrorType.InvalidRequest, `The model '${id}' does not exist`, { param: "model", code: "model_not_found" });
    return c.json(modelObject(id, d.started));
  });
}

export interface CompletionsDeps {
  chat: ChatDeps;
  limiter: RateLimiter;
  metrics: FrontdoorMetrics;
  log: Logger;
  maxBody: number;
  running: InFlight;
  /** Aborted when the server stops: every answer in flight ends. */
  stopping: AbortSignal;
}

/** The response header that says whether a `lyra/<role>` answer came from the role's response cache. */
export const CACHE_HEADER = "Lyra-Cache";

/** `hit` for an exact or semantic hit, else `miss` or `bypass`; undefined when the role has no cache. */
function cacheHeader(cache: unknown): string | undefined {
  if (cache === "exact" || cache === "semantic") return "hit";
  return cache === "miss" || cache === "bypass" ? cache : undefined;
}

/** POST /v1/chat/completions: one answer, whole or streamed; each request is counted and timed once. */
export function completionsRoute(app: Hono<Env>, d: CompletionsDeps): void {
  app.post("/v1/chat/completions", async (c) => {
    const t0 = performance.now();
    const caller = c.get("caller");
    const untrack = d.running.track();
    let model: string | undefined;
    // A failure once the client has gone is the client's leaving, not the server's fault.
    const asClientGone = (err: unknown) =>
      err instanceof OpenAIError || !c.req.raw.signal.aborted ? err : clientClosed("the answer was complete", err);
    const end = (failure?: unknown) => {
      const err = asClientGone(failure);
      const s = err instanceof OpenAIError ? err.status : err ? 500 : 200;
      d.metrics.requests.inc({ door: DOOR, outcome: outcomeOf(s) });
      if (s === 200) d.metrics.replySeconds.observe({ door: DOOR }, (performance.now() - t0) / 1000);
      if (s === 499) d.log.info({ key: caller.keyId, model, ms: Math.round(performance.now() - t0) }, (err as OpenAIError).message);
      untrack();
      return err;
    };
    try {
      try {
        d.limiter.take(caller.keyId);
      } catch (err) {
        d.metrics.rateLimited.inc({ door: DOOR });
        throw err;
      }
      requireJson(c.req.header("content-type"));
      const req = parseChatRequest(parseJson(await readBody(c.env.incoming, d.maxBody)));
      model = req.model;
      const signal = AbortSignal.any([c.req.raw.signal, d.stopping]);
      const answer = await startAnswer(d.chat, req, {
        caller,
        conversationHeader: c.req.header(CONVERSATION_HEADER),
        signal,
        cacheControl: c.req.header("cache-control"),
      });
      for (const [k, v] of Object.entries(answer.headers)) c.header(k, v);
      if (!req.stream) {
        const body = await completeAnswer(answer, req.model);
        // A role's response cache: hit, miss or bypass (a streamed answer's headers go before it is known: its finish chunk says it).
        const cache = cacheHeader(body.lyra.cache);
        if (cache) c.header(CACHE_HEADER, cache);
        end();
        return c.json(body);
      }
      const body = streamAnswer(answer, req.model, req.stream_options?.include_usage === true, end);
      return c.body(body, 200, {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        Connection: "keep-alive",
      });
    } catch (err) {
      throw end(err);
    }
  });
  app.all("/v1/chat/completions", (c) =>
    fail(
      c,
      new OpenAIError(405, ErrorType.InvalidRequest, `${c.req.method} is not allowed here: use POST /v1/chat/completions`, {
        code: "method_not_allowed",
      }),
    ),
  );
}
