/** `lyra serve` and `lyra up` as a user runs them: keys from the environment, SIGTERM drains. */
import OpenAI from "openai";
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { runLyra, writeCommitteeConfig, type CliProcess } from "../../harness/committee-fixture.ts";

let server: NatsServer;
let mesh: Mesh;
beforeAll(async () => {
  server = await startNatsServer();
  mesh = await connectMesh({ servers: server.url });
});
afterAll(async () => {
  await mesh?.close();
  await server?.[Symbol.asyncDispose]();
});

/** The API URL a started `lyra serve` or `lyra up` printed. */
async function apiUrl(p: CliProcess): Promise<string> {
  await p.waitFor(/OpenAI-compatible API on (http\S+)/, 30_000);
  return /OpenAI-compatible API on (http\S+)/.exec(p.output())![1]!;
}

describe("lyra serve (CLI)", () => {
  it("refuses to start without keys, naming the variable", async () => {
    const cfg = writeCommitteeConfig({ natsUrl: server.url });
    const p = runLyra(["serve", "--config", cfg, "--port", "0"], { LYRA_SERVE_KEYS: "" });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain("set LYRA_SERVE_KEYS");
  });

  it("serves with keys from the environment and finishes an in-flight request on SIGTERM", async () => {
    let started!: () => void;
    const inHandler = new Promise<void>((r) => (started = r));
    await using _voice = await serveRole(mesh, {
      role: "voice",
      host: "test",
      heartbeatIntervalS: 0,
      async *handler() {
        started();
        await sleep(800);
        yield { type: "response", data: "slow but sure" };
      },
    });
    const p = runLyra(["serve", "--config", writeCommitteeConfig({ natsUrl: server.url }), "--port", "0"], {
      LYRA_SERVE_KEYS: "k-one, k-two",
    });
    try {
      const client = new OpenAI({ apiKey: "k-two", baseURL: await apiUrl(p), maxRetries: 0 });
      const answer = client.chat.completions.create({ model: "lyra/voice", messages: [{ role: "user", content: "hi" }] });
      await inHandler;
      p.proc.kill("SIGTERM");
      expect((await answer).choices[0]!.message.content).toBe("slow but sure");
      expect(await p.exited).toBe(0);
    } finally {
      p.proc.kill("SIGKILL");
    }
  });
});

describe("lyra up with a serve section", () => {
  it("starts the endpoint next to the mesh; a committee turn answers through it", async () => {
    const cfg = writeCommitteeConfig({ natsUrl: server.url });
    appendFileSync(cfg, "serve: { port: 0, keys_env: UP_KEYS }\n");
    const p = runLyra(["up", "--config", cfg, "--scripted"], { NATS_URL: server.url, UP_KEYS: "k-up" });
    try {
      const client = new OpenAI({ apiKey: "k-up", baseURL: await apiUrl(p), maxRetries: 0 });
      await p.waitFor(/mesh up on/);
      const r = await client.chat.completions.create({
        model: "lyra",
        messages: [{ role: "user", content: "How do I water basil?" }],
        user: "up-test",
      });
      expect(r.choices[0]!.message.content).toBe("Lyra says: Pragmatist answer to: How do I water basil?");
      p.proc.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    } finally {
      p.proc.kill("SIGKILL");
    }
  });
});
