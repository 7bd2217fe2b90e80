/**
 * `lyra serve`: the OpenAI-compatible endpoint, on Hono (web-standard handlers) through
 * @hono/node-server. Every `/v1` route needs a key; /healthz, /readyz and /metrics do not.
 */
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import {
  type Mesh,
  type Logger,
  createRoleClient,
  lifecycle,
  natsReadiness,
  readinessOf,
  type Drainable,
  type Readiness,
  type RoleClient,
} from "../../../mesh/index.ts";
import { rateLimiter, type Keys } from "./access.ts";
import type { ChatDeps } from "./chat.ts";
import { createCommittee } from "./committee-model.ts";
import { unavailable } from "./errors.ts";
import { capConnections, serverOptions, type ConnectionLimits } from "./limits.ts";
import { createModels } from "./models.ts";
import { usageRecorder } from "./usage.ts";
import { createFrontdoorMetrics, type FrontdoorMetrics } from "../metrics.ts";
import { completionsRoute, errorRoutes, inFlight, openRoutes, type Env, type InFlight } from "./routes.ts";

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

export interface ServeServer extends Drainable {
  /** Base URL of the API, e.g. http://127.0.0.1:8080/v1. */
  readonly url: string;
  readonly port: number;
  readonly metrics: FrontdoorMetrics;
  /** The keys it checks (reloadKeys() rotates them). */
  readonly keys: Keys;
  inFlight(): number;
  /** /readyz: not ready while NATS is disconnected or it drains (a draining server also stops taking connections). */
  ready(): Readiness;
  /** Refuses new requests (503), lets in-flight ones finish within graceMs, then ends the rest. */
  drain(): Promise<void>;
  /** Ends everything now. */
  close(): Promise<void>;
}

/** Listens on o.listen:o.port; a port in use fails with the fix. Returns the port and the API's base URL. */
async function listenOn(server: Server, o: ServeOptions): Promise<{ port: number; url: string }> {
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
  return { port, url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/v1` };
}

/**
 * The server's stop (lifecycle() runs it once): refuses new requests, gives those in flight `graceMs`, aborts the
 * rest, then waits for the connections to close.
 */
function stopper(d: {
  server: Server;
  running: InFlight;
  stopping: AbortController;
  roles: RoleClient;
  log: Logger;
  setDraining: () => void;
}): (graceMs: number) => Promise<void> {
  return (graceMs) =>
    (async () => {
      d.setDraining();
      const listening = new Promise<void>((r) => d.server.close(() => r()));
      d.server.closeIdleConnections();
      const cut = () =>
        d.stopping.abort(
          unavailable("lyra serve stopped before the reply came; retry (a committee reply is kept for the retry)", "shutting_down"),
        );
      const timer = setTimeout(cut, graceMs);
      await d.running.settled();
      clearTimeout(timer);
      cut();
      // The last responses are still being written: connections close as they fall idle, the
      // rest after a second.
      const idle = setInterval(() => d.server.closeIdleConnections(), 20);
      const late = setTimeout(() => d.server.closeAllConnections(), 1000);
      await listening;
      clearInterval(idle);
      clearTimeout(late);
      await d.roles.close();
      d.log.info("lyra serve stopped");
    })();
}

export async function startServe(o: ServeOptions): Promise<ServeServer> {
  const log = (o.log ?? o.mesh.log).child({ component: "serve" });
  const metrics = createFrontdoorMetrics();
  const roles = createRoleClient(o.mesh);
  const models = createModels(o.mesh, o.roles);
  const chat: ChatDeps = {
    committee: createCommittee(o.mesh),
    roles,
    models,
    timeoutMs: o.timeoutMs ?? 180_000,
    recordUsage: usageRecorder(o.mesh, log),
  };
  const started = Math.floor(Date.now() / 1000);
  const stopping = new AbortController();
  const running = inFlight();
  let draining = false;

  const app = new Hono<Env>();
  errorRoutes(app, log, metrics);
  const checks = [natsReadiness(o.mesh.nc), () => (draining ? ["draining"] : [])];
  const ready = () => readinessOf(checks);
  openRoutes(app, { metrics, keys: o.keys, models, started, draining: () => draining, ready });
  const limiter = rateLimiter(o.rateLimit?.rpm ?? 60, o.rateLimit?.burst ?? 10);
  completionsRoute(app, { chat, limiter, metrics, log, maxBody: o.maxBody ?? 1024 ** 2, running, stopping: stopping.signal });

  const server = createAdaptorServer({ fetch: app.fetch, serverOptions: serverOptions(o) }) as Server;
  capConnections(server, o.maxConnections, log);
  const { port, url } = await listenOn(server, o);
  log.info({ url, roles: o.roles, keys: o.keys.list() }, "lyra serve listening");

  const stop = stopper({ server, running, stopping, roles, log, setDraining: () => (draining = true) });
  return {
    url,
    port,
    metrics,
    keys: o.keys,
    ready,
    inFlight: () => running.size(),
    ...lifecycle({ drain: () => stop(o.graceMs ?? 10_000), close: () => stop(0) }),
  };
}
