/**
 * The browser's guard proxy. Chromium follows redirects without giving them to Playwright's route
 * handler, so a checked page could 302 to 169.254.169.254; all of its traffic (each redirect hop,
 * subresources, https and WebSocket tunnels) goes through this local proxy instead, which resolves
 * every host through the guarded lookup and connects only to checked addresses.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { WebError } from "./errors.ts";
import { checkUrlAddress, guardedLookup, type AddressPolicy } from "./guard.ts";

/** Header on the proxy's refusal, read back by browse to say why a navigation failed. */
export const REFUSED_HEADER = "x-lyra-refused";

export interface GuardProxy {
  /** http://127.0.0.1:<port>, for Chromium's --proxy-server. */
  readonly url: string;
  /** The refusal of a host (name or address) seen lately, for error messages. */
  refusalFor(host: string): string | undefined;
  close(): Promise<void>;
}

export async function startGuardProxy(policy: AddressPolicy): Promise<GuardProxy> {
  const lookup = guardedLookup(policy);
  const refusals = new Map<string, string>();
  const note = (host: string, err: unknown) => {
    const reason = err instanceof WebError ? err.message : `cannot reach '${host}': ${(err as Error).message}`;
    if (refusals.size > 256) refusals.clear();
    refusals.set(host, reason);
    return reason;
  };
  const sockets = new Set<Socket>();

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    let target: URL;
    try {
      target = new URL(req.url ?? "");
      if (target.protocol !== "http:") throw new Error("only http: goes through as a plain proxy request");
    } catch {
      return void res.writeHead(400, { "content-type": "text/plain" }).end("bad proxy request");
    }
    const refuse = (err: unknown) => {
      const reason = note(target.hostname, (err as { cause?: unknown }).cause ?? err);
      if (!res.headersSent)
        res.writeHead(403, { "content-type": "text/plain; charset=utf-8", [REFUSED_HEADER]: encodeURIComponent(reason) }).end(reason);
      else res.destroy();
    };
    // IP literals never reach the lookup hook: check them (and names, early) here.
    try {
      await checkUrlAddress(target, policy);
    } catch (err) {
      return refuse(err);
    }
    const upstream = httpRequest(target, { method: req.method, headers: req.headers, lookup }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", refuse);
    req.pipe(upstream);
  };
  const server: Server = createServer((req, res) => void onRequest(req, res).catch(() => res.destroy()));
  // https:// and wss:// arrive as CONNECT host:port tunnels.
  const onConnect = async (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    const [host = "", port = "443"] = (req.url ?? "").split(/:(?=\d+$)/);
    const hostname = host.replace(/^\[|\]$/g, "");
    try {
      await checkUrlAddress(new URL(`https://${host}:${port}/`), policy);
    } catch (err) {
      note(hostname, err);
      return void client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
    }
    const up = connect({ host: hostname, port: Number(port), lookup });
    up.on("connect", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on("error", (err) => {
      note(hostname, (err as { cause?: unknown }).cause ?? err);
      client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
    });
    client.on("close", () => up.destroy());
  };
  server.on(
    "connect",
    (req: IncomingMessage, client: Socket, head: Buffer) => void onConnect(req, client, head).catch(() => client.destroy()),
  );
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refusalFor: (host) => refusals.get(host.replace(/^\[|\]$/g, "")),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
