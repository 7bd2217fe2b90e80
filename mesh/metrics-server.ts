/** The /metrics endpoint every long-running process serves (agent host, conductor, tool host, Discord adapter). */
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { readinessOf, type ReadinessCheck } from "./readiness.ts";

/**
 * Serves GET /metrics, /healthz (liveness: the process answers) and /readyz (200 or 503 with
 * `{ready, reasons}` from `ready`'s checks; none: always ready) on every interface (0.0.0.0) or
 * the given host; port 0 picks a free port.
 */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host = "0.0.0.0",
  ready: readonly ReadinessCheck[] = [],
): Promise<Server & { port: number }> {
  const server = createServer((req, res) => {
    if (req.url === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "Content-Type": registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (req.url === "/healthz") res.writeHead(200).end("ok\n");
    else if (req.url === "/readyz") {
      const r = readinessOf(ready);
      res.writeHead(r.ready ? 200 : 503, { "Content-Type": "application/json" }).end(JSON.stringify(r));
    } else res.writeHead(404).end("try /metrics, /healthz or /readyz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return Object.assign(server, { port: typeof addr === "object" && addr ? addr.port : port });
}
