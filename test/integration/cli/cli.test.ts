/** The lyra CLI as a user runs it: help, usage errors, status, log, tap, and the demo. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import type { NatsServer } from "../../harness/nats-server.ts";
import { committeeConfig, runLyra } from "../../harness/committee-fixture.ts";
import { askTurn, newId } from "../conductor/helpers.ts";
import { eventually } from "../../harness/eventually.ts";
import { startCommitteeFixture, type CommitteeFixture } from "../../harness/conductor.ts";

let fx: CommitteeFixture;
let server: NatsServer;
let mesh: Mesh;

beforeAll(async () => {
  fx = await startCommitteeFixture({ config: (natsUrl) => committeeConfig({ natsUrl }) });
  ({ server, mesh } = fx);
});
afterAll(async () => {
  try {
    fx?.assertScriptsUsed(["philosopher", "voice"]); // the roles all its tests ask; committee.test.ts runs every rule
  } finally {
    await fx?.[Symbol.asyncDispose]();
  }
});

describe("lyra CLI", () => {
  it("every command has --help; unknown commands and options are usage errors", async () => {
    const top = runLyra(["--help"]);
    expect(await top.exited).toBe(0);
    const names = ["agent", "core", "ask", "tap", "status", "log", "up"];
    for (const n of names) expect(top.output()).toContain(`  ${n} `);
    const helps = names.map((n) => ({ n, p: runLyra([n, "--help"]) }));
    for (const { n, p } of helps) {
      expect(await p.exited, n).toBe(0);
      expect(p.output()).toContain(`Usage: lyra ${n}`);
    }
    const bad = runLyra(["frobnicate"]);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/unknown command 'frobnicate'/);
    const badOpt = runLyra(["ask", "--bogus", "hi"]);
    expect(await badOpt.exited).toBe(2);
    expect(badOpt.output()).toMatch(/--bogus/);
    const noText = runLyra(["ask", "--nats", server.url]);
    expect(await noText.exited).toBe(2);
    expect(noText.output()).toMatch(/say something/);
  });

  it("lyra status lists every role with host, model and load", async () => {
    const p = runLyra(["status", "--nats", server.url, "--json"]);
    expect(await p.exited).toBe(0);
    const found = JSON.parse(p.stdout()) as { roles: { role: string; host: string }[]; tool_servers: unknown[] };
    expect(Object.keys(found)).toEqual(["roles", "tool_servers"]);
    expect(found.roles.map((f) => f.role).sort()).toEqual(["philosopher", "pragmatist", "router", "voice"]);
    expect(found.tool_servers).toEqual([]);
    const table = runLyra(["status", "--nats", server.url]);
    expect(await table.exited).toBe(0);
    expect(table.output()).toMatch(/ROLE\s+HOST\s+MODEL/);
    expect(table.output()).toMatch(/voice\s+local\s+qwen3:4b\s+scripted/);
  });

  it("lyra log prints a conversation's steps; an unknown one exits 1", async () => {
    const conv = newId("c");
    await askTurn(mesh, conv, "Why log?");
    const p = runLyra(["log", "--nats", server.url, conv]);
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/user tester: Why log\?/);
    expect(p.output()).toMatch(/routed → philosopher/);
    expect(p.output()).toMatch(/voice @local scripted/);
    const none = runLyra(["log", "--nats", server.url, "nosuchconversation"]);
    expect(await none.exited).toBe(1);
  });

  it("lyra tap decodes msgpack traffic and shows headers", async () => {
    const tap = runLyra(["tap", "--nats", server.url, "lyra.>"]);
    await tap.waitFor(/tapping lyra\.>/);
    // Its subscription has reached the server once a probe published now shows up in its output.
    await eventually(
      "the tap to show a probe",
      async () => {
        mesh.nc.publish("lyra.tap-probe", "probe");
        await mesh.nc.flush();
        return tap.output().includes("lyra.tap-probe");
      },
      { intervalMs: 100 },
    );
    await askTurn(mesh, newId("c"), "Why tap?");
    await tap.waitFor(/Lyra-Request-Id=/);
    await tap.waitFor(/lyra\.outbox\.cli\.\S+\s.*\n.*"final":true/);
    tap.proc.kill("SIGINT");
    expect(await tap.exited).toBe(0);
  });

  it("lyra up --scripted serves until Ctrl-C: ask works against it, then everything stops cleanly", async () => {
    const up = runLyra(["up", "--scripted"], { NATS_URL: "", OLLAMA_HOST: "http://127.0.0.1:1" });
    await up.waitFor(/Ctrl-C stops everything/, 30_000);
    const url = /mesh up on (nats:\/\/127\.0\.0\.1:\d+)/.exec(up.output())![1]!;
    const ask = runLyra(["ask", "--nats", url, "How do I stop a mesh?"]);
    expect(await ask.exited).toBe(0);
    expect(ask.stdout()).toMatch(/\[scripted voice\]/);
    // The turn's figures, from the log: every step's backend and model, tokens and time.
    expect(ask.stdout()).toMatch(/voice\s+scripted\/scripted:smollm2:135m\s+\d+ tokens\s+\d+ ms/);
    expect(ask.stdout()).toMatch(/total\s+\d+ tokens generated/);
    up.proc.kill("SIGINT");
    expect(await up.exited).toBe(0);
    expect(up.output()).toMatch(/stopping/);
    // nats-server went with it: nothing answers on that port any more.
    await expect(connectMesh({ servers: url, timeoutMs: 500, maxReconnectAttempts: 0 })).rejects.toThrow(/cannot connect/);
  }, 90_000);

  it("lyra up --scripted --demo talks to two specialists, calls the clock, remembers and recalls, prints the log and stops", async () => {
    // No Ollama (port 1): the memory server searches lexically, and says so.
    const env: Record<string, string> = { NATS_URL: "", OLLAMA_HOST: "http://127.0.0.1:1" };
    const demo = runLyra(["up", "--scripted", "--demo"], env);
    expect(await demo.exited).toBe(0);
    const out = demo.output();
    expect(out).toMatch(/using the scripted development backend/);
    expect(out).toMatch(/specialist: pragmatist/);
    expect(out).toMatch(/specialist: philosopher/);
    expect(out).toMatch(/tool\s+clock\.now: ok/);
    expect(out).toMatch(/tool\s+memory\.commit_journal: ok/);
    // The last turn's auto-recall found what the second turn stored (in the demo's fresh store).
    expect(out).toMatch(/What is my cat called\?[\s\S]*memory: recalled what this user told earlier/);
    expect(out).toMatch(/conversation log/);
    expect(out).toMatch(/routed → philosopher/);
  }, 90_000);

  it("lyra up without --scripted and no Ollama to use or start fails at once, saying what to run", async () => {
    // PATH without ollama; NATS_URL given, so no nats-server is started either.
    const up = runLyra(["up"], { NATS_URL: server.url, OLLAMA_HOST: "http://127.0.0.1:1", PATH: "" });
    expect(await up.exited).toBe(1);
    expect(up.output()).toMatch(/Ollama is not running and not installed .*run 'npm run setup'.*lyra up --scripted/);
  });
});
