/**
 * `lyra up` on the real small model: a turn through the dev mesh answered by smollm2:135m on real
 * Ollama (the log says backend ollama and the model, `lyra ask` prints real token counts), an
 * `ollama serve` that lyra up starts itself and stops, and a missing model named with what to pull.
 * Properties only, never the model's words.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { LogEvent } from "../../schemas/index.ts";
import { runLyra, type CliProcess } from "../harness/committee-fixture.ts";
import { freePort } from "../harness/nats-server.ts";
import { CHAT_MODEL, EMBED_MODEL, startOllama, type RealOllama } from "../harness/real.ts";

type Yaml = {
  roles: Record<string, { model: string; tools?: string[]; max_tokens?: number; first_token_timeout_ms?: number }>;
  memory?: { auto_recall: boolean };
  tools: { servers: Record<string, { options?: Record<string, unknown> }> };
};

let ollama: RealOllama;
let dir: string;
const DEV = parse(readFileSync(new URL("../../config/mesh.dev.yaml", import.meta.url), "utf8")) as Yaml;

/** The dev config with its memory store in this file's temp dir (not the user's), changed by `edit`. */
function devConfig(name: string, edit: (c: Yaml) => void = () => {}): string {
  const c = structuredClone(DEV);
  c.tools.servers.memory!.options = { ...c.tools.servers.memory!.options, path: join(dir, `${name}.db`) };
  edit(c);
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, stringify(c));
  return path;
}

const stop = async (p: CliProcess) => {
  if (p.proc.exitCode === null) p.proc.kill("SIGINT");
  return p.exited;
};

beforeAll(async () => {
  ollama = await startOllama();
  dir = mkdtempSync(join(tmpdir(), "lyra-real-up-"));
});
afterAll(async () => {
  await ollama?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("lyra up on the real model", () => {
  it("a turn answered by smollm2:135m on Ollama: a non-empty reply, real token counts, lyra log names backend and model", async () => {
    // Specialists without tools, to keep the tier short: a tool call driven by this model through
    // the constrained mode has its own test (ollama-tools.test.ts), and the demo makes real ones.
    // Shorter generations than the dev config's and a patient first token: the tier shares two cores.
    // 16 tokens cut the router's JSON short, so the turn goes to the default specialist (a warning,
    // not an error): the step still runs on the model, within the conductor's 120 s step deadline.
    const config = devConfig("turn", (c) => {
      for (const r of Object.values(c.roles)) Object.assign(r, { tools: [], max_tokens: 16, first_token_timeout_ms: 120_000 });
      c.memory!.auto_recall = false;
    });
    const up = runLyra(["up", "--config", config], { NATS_URL: "", OLLAMA_HOST: ollama.host });
    try {
      await up.waitFor(/Ctrl-C stops everything/, 120_000);
      expect(up.output()).toContain(`using real Ollama at ${ollama.url}`);
      expect(up.output()).not.toMatch(/started ollama serve/);
      const url = /mesh up on (nats:\/\/127\.0\.0\.1:\d+)/.exec(up.output())![1]!;
      const ask = runLyra(["ask", "--nats", url, "--conversation", "real-up", "--timeout", "360", "Name one colour."]);
      expect(await ask.exited, ask.output()).toBe(0);
      const reply = /\nLyra: (.*)\n/.exec(ask.stdout())?.[1] ?? "";
      expect(reply.trim().length).toBeGreaterThan(0);
      // Every step's figures are the model's: backend/model, and a positive token count.
      for (const step of ["router", "voice"])
        expect(ask.stdout()).toMatch(new RegExp(`${step}\\s+ollama/${CHAT_MODEL.replace(".", "\\.")}\\s+[1-9]\\d* tokens\\s+\\d+ ms`));
      const log = runLyra(["log", "--nats", url, "--json", "real-up"]);
      expect(await log.exited).toBe(0);
      const events = log
        .stdout()
        .trim()
        .split("\n")
        .map((l) => LogEvent.parse(JSON.parse(l)));
      const steps = events.filter((e) => e.type === "routed" || e.type === "specialist_finished" || e.type === "voice_reply");
      expect(steps.map((e) => e.type)).toEqual(["routed", "specialist_finished", "voice_reply"]);
      for (const e of steps) expect(e, JSON.stringify(e)).toMatchObject({ backend: "ollama", model: CHAT_MODEL, host: "local" });
      expect(events.some((e) => e.type === "error")).toBe(false);
    } finally {
      expect(await stop(up)).toBe(0);
    }
  }, 400_000);

  it("starts ollama serve itself when nothing answers at OLLAMA_HOST, and stops it with lyra up", async () => {
    const port = await freePort();
    const up = runLyra(["up", "--config", devConfig("start")], { NATS_URL: "", OLLAMA_HOST: `127.0.0.1:${port}` });
    try {
      await up.waitFor(/Ctrl-C stops everything/, 120_000);
      expect(up.output()).toContain(`started ollama serve on http://127.0.0.1:${port}`);
      expect(up.output()).toMatch(new RegExp(`using real Ollama at http://127\\.0\\.0\\.1:${port} \\(.*${CHAT_MODEL}.*${EMBED_MODEL}`));
      expect((await fetch(`http://127.0.0.1:${port}/api/version`)).ok).toBe(true);
    } finally {
      expect(await stop(up)).toBe(0);
    }
    await expect(fetch(`http://127.0.0.1:${port}/api/version`)).rejects.toThrow();
  });

  it("a model Ollama lacks stops lyra up at once with what to pull", async () => {
    const config = devConfig("missing", (c) => (c.roles.voice!.model = "no-such-model:1b"));
    const up = runLyra(["up", "--config", config], { NATS_URL: "", OLLAMA_HOST: ollama.host });
    expect(await up.exited).toBe(1);
    expect(up.output()).toMatch(/lacks the model no-such-model:1b: run 'npm run setup' \(or 'ollama pull no-such-model:1b'\)/);
  });
});
