/**
 * The tool host with servers that cannot start beside ones that can, a Streamable HTTP server
 * bridged through the SDK's HTTP client transport, and what `lyra status` discovery sees.
 */
import { createServer, type Server } from "node:http";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMcpHandler } from "@modelcontextprotocol/server";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createLogger, silentLogger } from "../../../mesh/logger.ts";
import { clockServer } from "../../../tools/builtin/clock.ts";
import { createMcpClient, type McpClient } from "../../../tools/client.ts";
import { discoverToolServers } from "../../../tools/discovery.ts";
import { ToolsError } from "../../../tools/errors.ts";
import { startToolHost, type ToolHost } from "../../../tools/host.ts";
import { connectSdkClient } from "../../../tools/sdk.ts";
import { McpCode } from "../../../tools/wire.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { mcpRequest } from "./helpers.ts";

let nats: NatsServer;
let mesh: Mesh;
let host: ToolHost;
let mcp: McpClient;
let http: Server;
let httpUrl: string;
const seenAuth: string[] = [];
const logLines: string[] = [];

/** A real Streamable HTTP MCP server: the SDK's own handler on node:http. */
async function startHttpMcp(): Promise<void> {
  const mcpHttp = createMcpHandler(() => clockServer());
  http = createServer((req, res) => {
    void (async () => {
      seenAuth.push(req.headers.authorization ?? "");
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.concat(chunks);
      const response = await mcpHttp.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body }));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) for await (const chunk of response.body) res.write(chunk);
      res.end();
    })();
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const addr = http.address();
  httpUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/mcp`;
}

beforeAll(async () => {
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
  await startHttpMcp();
  host = await startToolHost(mesh, {
    tenant: "test",
    host: "h1",
    servers: {
      clock: { builtin: "clock" },
      nosuch: { command: "/nonexistent/lyra-no-such-mcp-server", args: [], env: {} },
      quitter: { command: process.execPath, args: ["-e", "console.error('no config for me'); process.exit(3)"], env: {} },
      remote: { url: httpUrl, headers: { Authorization: "Bearer ${LYRA_TEST_TOKEN}" }, description: "a clock over HTTP" },
    },
    env: { LYRA_TEST_TOKEN: "t0ken" },
    log: createLogger({ level: "warn", destination: new Writable({ write: (c: Buffer, _e, cb) => (logLines.push(c.toString()), cb()) }) }),
    heartbeatS: 1,
  });
  mcp = createMcpClient(mesh, { tenant: "test", user: "tester" });
}, 60_000);

afterAll(async () => {
  await mcp?.close();
  await host?.close();
  await mesh?.close();
  await nats?.close();
  http?.close();
});

describe("servers that cannot start", () => {
  it("are reported failed with the reason, while the host keeps serving the others", async () => {
    const byName = Object.fromEntries(host.servers().map((s) => [s.server, s]));
    expect(byName.nosuch!.state).toBe("failed");
    expect(byName.nosuch!.error).toMatch(/could not start command '\/nonexistent\/lyra-no-such-mcp-server'.*ENOENT/);
    expect(byName.quitter!.state).toBe("failed");
    // What it printed stays in this host's log; the error (heartbeats, $SRV.STATS, -32010) points there.
    expect(byName.quitter!.error).toMatch(/could not start command '.*'.*; see the lyra tools log on h1/);
    expect(byName.quitter!.error).not.toMatch(/no config for me/);
    expect(logLines.some((l) => l.includes("'quitter' failed to start") && l.includes("no config for me"))).toBe(true);
    expect(byName.clock!.state).toBe("up");
    expect(byName.clock!.tools).toEqual(["now", "wait"]);
    const sdk = await connectSdkClient(mcp, "clock");
    const res = await sdk.callTool({ name: "now", arguments: {} });
    expect(JSON.stringify(res.content)).toContain("UTC");
    await sdk.close();
  });

  it("answer calls with -32010 naming the reason, never a hang", async () => {
    const res = await mcp.request("nosuch", mcpRequest("tools/call", { name: "x", arguments: {} }), { inactivityMs: 600_000 });
    expect("error" in res && res.error.code).toBe(McpCode.StreamLost);
    expect("error" in res && res.error.message).toMatch(/tool server 'nosuch' is not running: could not start.*next start in \d+ s/);
  });

  it("are listed by $SRV discovery with state failed and the error (what lyra status prints)", async () => {
    const found = await discoverToolServers(mesh, { timeoutMs: 1500 });
    const byName = Object.fromEntries(found.map((s) => [s.server, s]));
    expect(Object.keys(byName).sort()).toEqual(["clock", "nosuch", "quitter", "remote"]);
    expect(byName.nosuch).toMatchObject({ state: "failed", host: "h1", kind: "stdio", mesh: "test" });
    expect(byName.nosuch!.error).toMatch(/ENOENT/);
    expect(byName.quitter!.error).not.toMatch(/no config for me/);
    expect(byName.clock).toMatchObject({ state: "up", kind: "builtin", tools: ["now", "wait"] });
    expect(byName.clock!.metadata.tools).toBe("now,wait");
    expect(byName.remote).toMatchObject({ state: "up", kind: "http" });
    // The configured description, else the built-in's own, says what a server is for.
    expect(byName.remote!.description).toMatch(/^a clock over HTTP: MCP server 'remote' \(http\) hosted by lyra tools on h1/);
    expect(byName.clock!.description).toMatch(/^the time in any time zone.*: MCP server 'clock' \(builtin\)/);
  });
});

describe("a server that starts but never answers initialize", () => {
  it("is failed after the start timeout, not waited on forever", async () => {
    await using mute = await startToolHost(mesh, {
      tenant: "test3",
      host: "h1",
      servers: { mute: { command: process.execPath, args: ["-e", "setInterval(() => {}, 1000)"], env: {} } },
      startTimeoutMs: 1500,
      log: silentLogger,
    });
    const s = mute.servers()[0]!;
    expect(s.state).toBe("failed");
    expect(s.error).toMatch(/could not start command '.*': no answer to initialize within 1500 ms/);
  });
});

describe("a Streamable HTTP MCP server", () => {
  it("is bridged with its headers (${VAR} expanded) and serves the SDK's client over NATS", async () => {
    const sdk = await connectSdkClient(mcp, "remote");
    const { tools } = await sdk.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["now", "wait"]);
    const progress: number[] = [];
    const res = await sdk.callTool({ name: "wait", arguments: { seconds: 2 } }, { onprogress: (p) => progress.push(p.progress) });
    expect(JSON.stringify(res.content)).toContain("waited 2 s");
    expect(progress).toEqual([1, 2]);
    expect(seenAuth.length).toBeGreaterThan(0);
    expect(seenAuth.every((a) => a === "Bearer t0ken")).toBe(true);
    await sdk.close();
  });
});

describe("configuration errors stop the host before it starts anything", () => {
  const start = (servers: Record<string, never> | Record<string, object>, only?: string[]) =>
    startToolHost(mesh, { tenant: "test2", host: "h1", servers: servers as never, only, env: {}, log: silentLogger });
  it("an unknown builtin, a missing ${VAR}, an unknown --only name", async () => {
    await expect(start({ x: { builtin: "calculator" } })).rejects.toThrow(/tools.servers.x.builtin is 'calculator'.*use one of: clock/);
    await expect(start({ gh: { command: "gh-mcp", args: [], env: { TOKEN: "${GH_PAT}" } } })).rejects.toThrow(
      /'gh'.*env.TOKEN.*\$\{GH_PAT\}.*export GH_PAT/,
    );
    const err = await start({ clock: { builtin: "clock" } }, ["clock", "web"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolsError);
    expect((err as Error).message).toMatch(/--only names 'web', not in the config's tools.servers \(clock\)/);
  });
});
