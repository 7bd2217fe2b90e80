import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { createLogger } from "../../../mesh/logger.ts";
import { freePort, startNatsServer } from "../../harness/nats-server.ts";

describe("connectMesh", () => {
  it("authenticates with a token or a user and password, and refuses wrong ones clearly", async () => {
    await using tokenServer = await startNatsServer({ jetstream: false, args: ["--auth", "s3cret"] });
    await using ok = await connectMesh({ servers: tokenServer.url, token: "s3cret" });
    expect(ok.nc.isClosed()).toBe(false);
    await expect(connectMesh({ servers: tokenServer.url, token: "wrong", maxReconnectAttempts: 0 })).rejects.toThrow(/cannot connect to NATS .*Authorization/i);

    await using userServer = await startNatsServer({ jetstream: false, args: ["--user", "lyra", "--pass", "pw"] });
    await using ok2 = await connectMesh({ servers: userServer.url, user: "lyra", pass: "pw" });
    expect(ok2.nc.isClosed()).toBe(false);
  });

  it("says how to fix a missing server or creds file", async () => {
    const port = await freePort();
    await expect(connectMesh({ servers: `nats://127.0.0.1:${port}`, timeoutMs: 500 })).rejects.toThrow(/start nats-server or set NATS_URL/);
    await expect(connectMesh({ credsFile: "/nonexistent/lyra.creds" })).rejects.toThrow(/cannot read NATS creds file '\/nonexistent\/lyra.creds'/);
  });

  it("logs disconnects and reconnects, and closed() resolves once", async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
    const first = await startNatsServer({ jetstream: false });
    const port = first.port;
    const mesh = await connectMesh({ servers: first.url, reconnectTimeWaitMs: 100, log: createLogger({ level: "debug", destination }) });
    await first.stop();
    await using again = await startNatsServer({ jetstream: false, port });
    for (let i = 0; i < 100 && !lines.some((l) => l.includes("NATS reconnected")); i++) await new Promise((r) => setTimeout(r, 100));
    expect(lines.some((l) => l.includes("NATS disconnect"))).toBe(true);
    expect(lines.some((l) => l.includes("NATS reconnected"))).toBe(true);
    await mesh.close();
    await mesh.closed();
    await mesh[Symbol.asyncDispose](); // safe twice
    await first[Symbol.asyncDispose]();
    expect(again.port).toBe(port);
  });
});
