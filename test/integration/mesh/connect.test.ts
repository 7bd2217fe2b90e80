import { createServer } from "node:net";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { connectMesh, MIN_NATS_SERVER, versionAtLeast } from "../../../mesh/connect.ts";
import { createLogger } from "../../../mesh/logger.ts";
import { freePort, startNatsServer } from "../../harness/nats-server.ts";
import { eventually } from "../../harness/eventually.ts";

describe("connectMesh", () => {
  it("authenticates with a token or a user and password, and refuses wrong ones clearly", async () => {
    await using tokenServer = await startNatsServer({ jetstream: false, args: ["--auth", "s3cret"] });
    await using ok = await connectMesh({ servers: tokenServer.url, token: "s3cret" });
    expect(ok.nc.isClosed()).toBe(false);
    await expect(connectMesh({ servers: tokenServer.url, token: "wrong", maxReconnectAttempts: 0 })).rejects.toThrow(
      /cannot connect to NATS .*Authorization/i,
    );

    await using userServer = await startNatsServer({ jetstream: false, args: ["--user", "lyra", "--pass", "pw"] });
    await using ok2 = await connectMesh({ servers: userServer.url, user: "lyra", pass: "pw" });
    expect(ok2.nc.isClosed()).toBe(false);
  });

  it("says how to fix a missing server or creds file", async () => {
    const port = await freePort();
    await expect(connectMesh({ servers: `nats://127.0.0.1:${port}`, timeoutMs: 500 })).rejects.toThrow(/start nats-server or set NATS_URL/);
    await expect(connectMesh({ credsFile: "/nonexistent/lyra.creds" })).rejects.toThrow(
      /cannot read NATS creds file '\/nonexistent\/lyra.creds'/,
    );
  });

  it("refuses a nats-server older than the minimum, saying which and why", async () => {
    // What nats-server 2.9.10 (Debian 12's) sends a client: INFO first, then PONG to its PING.
    const old = createServer((s) => {
      s.write(`INFO {"server_id":"OLD","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576,"jetstream":true}\r\n`);
      s.on("data", (d: Buffer) => d.toString().includes("PING") && s.write("PONG\r\n"));
      s.on("error", () => undefined);
    });
    await new Promise<void>((r) => old.listen(0, "127.0.0.1", r));
    const { port } = old.address() as { port: number };
    try {
      await expect(connectMesh({ servers: `nats://127.0.0.1:${port}`, maxReconnectAttempts: 0 })).rejects.toThrow(
        new RegExp(
          `nats-server 2\\.9\\.10 .* is too old: Lyra mesh needs ${MIN_NATS_SERVER.replaceAll(".", "\\.")} or later .*npm run setup`,
        ),
      );
    } finally {
      old.close();
    }
    // The server the tests run on is new enough.
    await using current = await startNatsServer({ jetstream: false });
    await using ok = await connectMesh({ servers: current.url });
    expect(versionAtLeast(ok.nc.info!.version, MIN_NATS_SERVER)).toBe(true);
    expect([
      versionAtLeast("2.9.10", "2.10.0"),
      versionAtLeast("v2.15.3", "2.10.0"),
      versionAtLeast("2.10.0-beta.1", "2.10.0"),
      versionAtLeast("3.0.0", "2.10.0"),
    ]).toEqual([false, true, true, true]);
  });

  it("logs disconnects and reconnects, and closed() resolves once", async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
    const first = await startNatsServer({ jetstream: false });
    const port = first.port;
    const mesh = await connectMesh({ servers: first.url, reconnectTimeWaitMs: 100, log: createLogger({ level: "debug", destination }) });
    await first.close();
    await using again = await startNatsServer({ jetstream: false, port });
    await eventually("the reconnect to be logged", () => lines.some((l) => l.includes("NATS reconnected")), { timeoutMs: 10_000 });
    expect(lines.some((l) => l.includes("NATS disconnect"))).toBe(true);
    expect(lines.some((l) => l.includes("NATS reconnected"))).toBe(true);
    await mesh.close();
    await mesh.closed();
    await mesh[Symbol.asyncDispose](); // safe twice
    await first[Symbol.asyncDispose]();
    expect(again.port).toBe(port);
  });
});
