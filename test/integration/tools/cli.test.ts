/** `lyra tools` as an operator runs it: serves the config's servers, shows in `lyra status`, exports /metrics, exits 0 on SIGTERM. */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createMcpClient } from "../../../tools/client.ts";
import { connectSdkClient } from "../../../tools/sdk.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { runLyra } from "../../harness/committee-fixture.ts";
import { agentYaml, childEnv, within, writeTempFile } from "../agents/helpers.ts";

let nats: NatsServer;
let mesh: Mesh;
let configPath: string;

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: false });
  mesh = await connectMesh({ servers: nats.url });
  const doc = parse(agentYaml({ natsUrl: nats.url, ollamaUrl: "http://127.0.0.1:1" })) as Record<string, unknown>;
  doc.tools = { servers: { clock: { builtin: "clock" }, broken: { command: "/nonexistent/lyra-no-such-mcp-server" } } };
  configPath = writeTempFile(stringify(doc), "tools.yaml");
});

afterAll(async () => {
  await mesh?.close();
  await nats?.close();
});

describe("lyra tools", () => {
  it("serves the clock beside a server that cannot start, shows both in lyra status, counts calls, exits 0 on SIGTERM", async () => {
    const p = runLyra(["tools", "--config", configPath, "--host", "tools-1", "--metrics-port", "0"], childEnv());
    try {
      await p.waitFor(/lyra tools ready/, 60_000);
      const sdk = await connectSdkClient(createMcpClient(mesh, { tenant: "test", user: "tester" }), "clock");
      const res = await sdk.callTool({ name: "now", arguments: { timezone: "UTC" } });
      expect(JSON.stringify(res.content)).toContain("UTC");
      await sdk.close();

      const status = runLyra(["status", "--nats", nats.url], childEnv());
      await within(status.exited, 30_000, "lyra status");
      const out = status.stdout();
      expect(out).toMatch(/SERVER\s+HOST\s+STATE\s+TOOLS\s+IN-FLIGHT\s+REQUESTS\s+ERRORS\s+INSTANCE/);
      expect(out).toMatch(/clock\s+tools-1\s+up\s+now,wait\s+0\s+\d+\s+0/);
      expect(out).toMatch(/broken\s+tools-1\s+failed/);
      expect(out).toMatch(/broken@tools-1: could not start command '\/nonexistent\/lyra-no-such-mcp-server'.*ENOENT/);
      const json = runLyra(["status", "--nats", nats.url, "--json"], childEnv());
      await within(json.exited, 30_000, "lyra status --json");
      const st = JSON.parse(json.stdout()) as { roles: unknown[]; tool_servers: { server: string; host: string; state: string }[] };
      expect(st.roles).toEqual([]);
      expect(st.tool_servers.map((t) => [t.server, t.host, t.state])).toEqual([
        ["broken", "tools-1", "failed"],
        ["clock", "tools-1", "up"],
      ]);

      const port = Number(/"metricsPort":(\d+)/.exec(p.output())?.[1]);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/lyra_tool_server_calls_total\{server="clock",tool="now",outcome="ok"\} 1/);
      expect(metrics).toMatch(/lyra_tool_server_up\{server="broken"\} 0/);
      expect(metrics).toMatch(/lyra_tool_server_up\{server="clock"\} 1/);
      expect(metrics).toMatch(/lyra_tool_server_call_duration_seconds_count\{server="clock",tool="now"\} 1/);
      // The exposition format, checked by Prometheus' own tool (lint: only prom-client's defaults may show).
      const promtool = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" });
      if (promtool.error)
        throw new Error("promtool not found: install it with 'sudo apt-get install --no-install-recommends prometheus' (Debian/Ubuntu)");
      const findings = (promtool.stdout + promtool.stderr)
        .split("\n")
        .filter((l) => l.trim() && !/^lyra_tools_nodejs_active_\w+_total /.test(l));
      expect([0, 3], promtool.stdout + promtool.stderr).toContain(promtool.status);
      expect(findings).toEqual([]);

      // SIGTERM while a call runs: it finishes (drain), then the process exits 0.
      const sdk2 = await connectSdkClient(createMcpClient(mesh, { tenant: "test", user: "tester" }), "clock");
      let signalled = false;
      const waited = sdk2.callTool(
        { name: "wait", arguments: { seconds: 2 } },
        {
          onprogress: () => {
            if (signalled) return;
            signalled = true;
            p.proc.kill("SIGTERM");
          },
        },
      );
      expect(JSON.stringify((await waited).content)).toContain("waited 2 s");
      expect(signalled).toBe(true);
      await sdk2.close();
      expect(await within(p.exited, 30_000, "lyra tools after SIGTERM")).toBe(0);
      expect(p.output()).toMatch(/shutting down: finishing calls in flight/);
    } finally {
      p.proc.kill("SIGKILL");
    }
  }, 120_000);

  it("refuses an --only name the config does not have, naming it", async () => {
    const p = runLyra(["tools", "--config", configPath, "--only", "clock,web", "--metrics-port", "0"], childEnv());
    expect(await within(p.exited, 30_000, "lyra tools --only web")).not.toBe(0);
    expect(p.output()).toMatch(/--only names 'web', not in the config's tools.servers \(clock, broken\)/);
  }, 60_000);
});
