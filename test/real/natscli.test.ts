/**
 * The README's "Debugging with the nats CLI" commands, run by the real `nats` CLI against a mesh
 * started as a user starts it (`lyra up --scripted`), and their output checked.
 */
import { spawn, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLyra } from "../harness/committee-fixture.ts";
import { requireBinary } from "../harness/real.ts";
import { childEnv } from "../integration/agents/helpers.ts";
import { OWNER, ROLES, startScriptedMesh, type ScriptedMesh } from "./helpers/scripted-mesh.ts";

let mesh: ScriptedMesh;
beforeAll(async () => {
  requireBinary("nats", "the nats CLI");
  mesh = await startScriptedMesh();
});
afterAll(async () => {
  await mesh?.[Symbol.asyncDispose]();
});

/** `nats <args>` against the test's server, with no context of this machine's. */
function nats(args: string[]): { code: number | null; out: string } {
  const r = spawnSync("nats", ["--server", mesh.server.url, "--no-context", ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("the README's nats commands on a running mesh", () => {
  it("nats req --wait-for-empty lyra.voice 'hello': the ack, one JSON answer, then the end", () => {
    for (const subject of ["lyra.voice", `agents.prompt.lyra.${OWNER}.voice`]) {
      const r = nats(["req", "--wait-for-empty", "--timeout", "20s", subject, "hello"]);
      expect(r.code, r.out).toBe(0);
      // The ack (an Agent Protocol status chunk), the answer as JSON, the empty terminator (nats prints "nil body").
      const ack = r.out.indexOf('{"type":"status","data":"ack"}');
      const answer = r.out.indexOf('{"type":"response","data":{"text":"Lyra says: hello"');
      expect(ack, r.out).toBeGreaterThanOrEqual(0);
      expect(answer, r.out).toBeGreaterThan(ack);
      expect(r.out.indexOf("nil body"), r.out).toBeGreaterThan(answer);
    }
  });

  it("nats req agents.status.lyra.dev.voice '': a heartbeat on request", () => {
    const r = nats(["req", "--timeout", "10s", `agents.status.lyra.${OWNER}.voice`, ""]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/"agent"\s*:\s*"lyra"/);
  });

  it("nats micro ls agents lists every role instance; nats micro info agents <id> shows its endpoints and metadata", () => {
    const ls = nats(["micro", "ls", "agents", "--json"]);
    expect(ls.code, ls.out).toBe(0);
    const services = JSON.parse(ls.out) as { id: string; name: string; metadata?: Record<string, string> }[];
    expect(services.every((s) => s.name === "agents")).toBe(true);
    expect(services).toHaveLength(ROLES.length);
    const plain = nats(["micro", "ls", "agents"]);
    expect(plain.code, plain.out).toBe(0);
    for (const s of services) expect(plain.out).toContain(s.id);

    const info = nats(["micro", "info", "agents", services[0]!.id]);
    expect(info.code, info.out).toBe(0);
    for (const word of ["prompt", "status", "lyra", "host", "model", "backend"]) expect(info.out.toLowerCase()).toContain(word);

    const stats = nats(["micro", "stats", "agents"]);
    expect(stats.code, stats.out).toBe(0);
    expect(stats.out).toContain("agents");
  });

  it("nats sub 'lyra.>' sees a turn's traffic: inbox, role calls, outbox", async () => {
    const sub = spawn("nats", ["--server", mesh.server.url, "--no-context", "sub", "lyra.>"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    sub.stdout.on("data", (d: Buffer) => (out += d.toString()));
    sub.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => sub.once("exit", r));
    try {
      await waitFor(
        () => /Subscribing on lyra\.>/.test(out),
        "nats sub to subscribe",
        () => out,
      );
      const ask = runLyra(
        ["ask", "--nats", mesh.server.url, "--conversation", "cli1", "What is a sandwich?"],
        childEnv({ NATS_URL: mesh.server.url }),
      );
      expect(await ask.exited, ask.output()).toBe(0);

      for (const subject of ["lyra.inbox.", "lyra.router", "lyra.pragmatist", "lyra.voice", "lyra.outbox.", "lyra.log.cli1"]) {
        await waitFor(
          () => out.includes(`Received on "${subject}`),
          `'${subject}' in nats sub`,
          () => out,
        );
      }
      if (process.env.R3_DUMP) process.stdout.write(out);
    } finally {
      sub.kill("SIGTERM");
      await exited;
    }
  });
});

async function waitFor(check: () => boolean, what: string, output: () => string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; output:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
