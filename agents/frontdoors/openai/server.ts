/**
 * `lyra serve`: the OpenAI-compatible endpoint, on Hono (web-standard handlers) through
 * @hono/node-server. Every `/v1` route needs a key; /healthz and /metrics do not.
 */
import type { Server } from "node:http";
import { createAdaptorServer, type HttpBindings } from "@hono/node-server";
import { Hono, type Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Mesh } from "../../../mesh/connect.ts";
import type { Logger } from "../../../mesh/logger.ts";
import { createRoleClient } from "../../../mesh/rolecall/index.ts";
import { rateLimiter, type Caller, type Keys } from "./access.ts";
import { completeAnswer, startAnswer, streamAnswer, type ChatDeps } from "./chat.ts";
import { createCommittee } from "./committee.ts";
import { CONVERSATION_HEADER } from "./conversation.ts";
import { parseJson, readBody, requireJson } from "./body.ts";
import { clientClosed, ErrorType, OpenAIError, unavailable } from "./errors.ts";
import { capConnections, serverOptions, type ConnectionLimits } from "./limits.ts";
import { modelList, modelObject } from "./format.ts";
import { createModels } from "./models.ts";
import { createFrontdoorMetrics, type FrontdoorMetrics } from "../metrics.ts";
import { DOOR, outcomeOf } from "./metrics.ts";
import { parseChatRequest } from "./request.ts";

export interface ServeOptions extends ConnectionLimits {
  mesh: Mesh;
  /** Roles offered as `lyra/<role>` (the mesh config's); roles found on the mesh are offered too. */
  roles: string[];
  keys: Keys;
  /** Address; default 127.0.0.1. */
  listen?: string;
  /** Port; 0 picks a free one; default 8080. */
  port?: number;
  /** Time a request waits for its reply, ms; default 180000. */
  timeoutMs?: number;
  /** Largest body, bytes; default 1 MiB. */
  maxBody?: number;
  /** Per key; rpm 0 turns it off; default 60 a minute, burst 10. */
  rateLimit?: { rpm: number; burst: number };
  /** Time drain() gives in-flight requests, ms; default 10000. */
  graceMs?: number;
  log?: Logger;
}

export interface ServeServer extends AsyncDisposable {
  /** Base URL of the API, e.g. http://127.0.0.1:8080/v1. */
  readonly url: string;
  readonly port: number;
  readonly metrics: FrontdoorMetrics;
  inFlight(): number;
  /** Refuses new requests (503), lets in-flight ones finish within graceMs, then ends the rest. */
  drain(): Promise<void>;
  /** Ends everything now. */
  close(): Promise<void>;
  /** Resolves when stopped; never rejects. */
  closed(): Promise<void>;
}

type Env = { Bindings: HttpBindings; Variables: { caller: Caller } };

export async function startServe(o: ServeOptions): Promise<ServeServer> {
  const log = (o.log ?? o.mesh.log).child({ component: "serve" });
  const metrics = createFrontdoorMetrics();
  const limiter = rateLimiter(o.rateLimit?.rpm ?? 60, o.rateLimit?.burst ?? 10);
  const roles = createRoleClient(o.mesh);
  const models = createModels(o.mesh, o.roles);
  const deps: ChatDeps = { committee: createCommittee(o.mesh), roles, models, timeoutMs: o.timeoutMs ?? 180_000 };
  const started = Math.floor(Date.now() / 1000);
  const stopping = new AbortController();
  const running = new Set<Promise<void>>();
  let draining = false;

  const fail = (c: Context, err: OpenAIError) => {
    if (err.retryAfterS !== undefined) c.header("Retry-After", String(err.retryAfterS));
    // 499 goes to a closed connection: any status would do, node takes it as it is.
    return c.json(err.body(), err.status as ContentfulStatusCode);
  };
  const app = new Hono<Env>();
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

  app.get("/healthz", (c) => c.text(draining ? "draining\n" : "ok\n", draining ? 503 : 200));
  app.get("/metrics", async (c) => c.body(await metrics.registry.metrics(), 200, { "Content-Type": metrics.registry.contentType }));

  app.use("/v1/*", async (c, next) => {
    try {
      if (draining) throw unavailable("lyra serve is shutting down; try again shortly", "shutting_down");
      c.set("caller", o.keys.check(c.req.header("authorization")));
    } catch (err) {
      metrics.requests.inc({ door: DOOR, outcome: outcomeOf((err as OpenAIError).status) });
      throw err;
    }
    await next();
  });
  app.get("/v1/models", async (c) => c.json(modelList(await models.ids(), started)));
  app.get("/v1/models/:id{.+}", async (c) => {
    const id = c.req.param("id");
    if (id !== "lyra" && !(id.startsWith("lyra/") && (await models.hasRole(id.slice(5)))))
      throw new OpenAIError(404, ErrorType.InvalidRequest, `The model '${id}' does not exist`, { param: "model", code: "model_not_found" });
    return c.json(modelObject(id, started));
  });

  const maxBody = o.maxBody ?? 1024 ** 2;
  app.post("/v1/chat/completions", async (c) => {
    const t0 = performance.now();
    const caller = c.get("caller");
    let settle!: () => void;
    const tracked = new Promise<void>((r) => (settle = r));
    running.add(tracked);
    let model: string | undefined;
    // A failure once the client has gone is the client's leaving, not the server's fault.
    const asClientGone = (err: unknown) =>
      err instanceof OpenAIError || !c.req.raw.signal.aborted ? err : clientClosed("the answer was complete", err);
    const end = (failure?: unknown) => {
      const err = asClientGone(failure);
      const s = err instanceof OpenAIError ? err.status : err ? 500 : 200;
      metrics.requests.inc({ door: DOOR, outcome: outcomeOf(s) });
      if (s === 200) metrics.replySeconds.observe({ door: DOOR }, (performance.now() - t0) / 1000);
      if (s === 499) log.info({ key: caller.keyId, model, ms: Math.round(performance.now() - t0) }, (err as OpenAIError).message);
      running.delete(tracked);
      settle();
      return err;
    };
    try {
      try {
        limiter.take(caller.keyId);
      } catch (err) {
        metrics.rateLimited.inc({ door: DOOR });
        throw err;
      }
      requireJson(c.req.header("content-type"));
      const req = parseChatRequest(parseJson(await readBody(c.env.incoming, maxBody)));
      model = req.model;
      const signal = AbortSignal.any([c.req.raw.signal, stopping.signal]);
      const answer = await startAnswer(deps, req, { caller, conversationHeader: c.req.header(CONVERSATION_HEADER), signal });
      for (const [k, v] of Object.entries(answer.headers)) c.header(k, v);
      if (!req.stream) {
        const body = await completeAnswer(answer, req.model);
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

  const server = createAdaptorServer({ fetch: app.fetch, serverOptions: serverOptions(o) }) as Server;
  capConnections(server, o.maxConnections, log);
  const listen = o.listen ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new Error(
              `port ${o.port ?? 8080} on ${o.listen ?? "127.0.0.1"} is in use: set serve.port in the config or --port (0 picks a free one)`,
              { cause: err },
            )
          : err,
      ),
    );
    server.listen(o.port ?? 8080, listen, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : (o.port ?? 8080);
  const host = listen.includes(":") ? `[${listen}]` : listen;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/v1`;
  log.info({ url, roles: o.roles, keys: o.keys.list() }, "lyra serve listening");

  let resolveClosed!: () => void;
  const closedP = new Promise<void>((r) => (resolveClosed = r));
  let stopP: Promise<void> | undefined;
  const stop = (graceMs: number) =>
    (stopP ??= (async () => {
      draining = true;
      const listening = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const cut = () =>
        stopping.abort(
          unavailable("lyra serve stopped before the reply came; retry (a committee reply is kept for the retry)", "shutting_down"),
        );
      const timer = setTimeout(cut, graceMs);
      await Promise.allSettled([...running]);
      clearTimeout(timer);
      cut();
      // The last responses are still being written: connections close as they fall idle, the
      // rest after a second.
      const idle = setInterval(() => server.closeIdleConnections(), 20);
      const late = setTimeout(() => server.closeAllConnections(), 1000);
      await listening;
      clearInterval(idle);
      clearTimeout(late);
      await roles.close();
      log.info("lyra serve stopped");
      resolveClosed();
    })());
  return {
    url,
    port,
    metrics,
    inFlight: () => running.size,
    drain: () => stop(o.graceMs ?? 10_000),
    close: () => stop(0),
    closed: () => closedP,
    [Symbol.asyncDispose]: () => stop(0),
  };
}
