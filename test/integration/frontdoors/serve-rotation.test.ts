/** `lyra serve` rotates its keys without a restart: under load, none fails; the old key is refused after its grace. */
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyIdOf } from "../../../agents/frontdoors/openai/access.ts";
import { parseKeys, reloadKeys } from "../../../agents/frontdoors/openai/index.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { parseMeshConfig } from "../../../schemas/index.ts";
import { eventually } from "../../harness/eventually.ts";
import { committeeYaml, runLyra, writeCommitteeConfig } from "../../harness/committee-fixture.ts";
import { logOf, newId } from "../conductor/helpers.ts";
import { serveFixture, type ServeFixture } from "./serve-helpers.ts";

const OLD = "sk-rotate-old";
const NEW = "sk-rotate-new";
const GRACE_S = 60;

let f: ServeFixture;
let t = 0;
beforeAll(async () => {
  f = await serveFixture({ serve: { keys: parseKeys(OLD, "K", {}, () => t) } });
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

/** Clients sending one request after another, each with the key `keyOf()` gives now; every status is kept. */
function load(clients: number, keyOf: (i: number) => string) {
  const statuses: { key: string; status: number }[] = [];
  let stop = false;
  const body = JSON.stringify({ model: "lyra/pragmatist", messages: [{ role: "user", content: "How do I water basil?" }] });
  const runs = Array.from({ length: clients }, async (_, i) => {
    while (!stop) {
      const key = keyOf(i);
      const r = await f.post("/chat/completions", body, { Authorization: `Bearer ${key}` });
      await r.arrayBuffer();
      statuses.push({ key, status: r.status });
    }
  });
  return {
    statuses,
    ok: (key: string) => statuses.filter((s) => s.key === key && s.status === 200).length,
    async stop() {
      stop = true;
      await Promise.all(runs);
    },
  };
}

describe("lyra serve key rotation", () => {
  it("rotates under load: none fails, the successor keeps the old key's conversations, the old key gets 401 after the grace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "serve-keys-"));
    const keysFile = join(dir, "keys");
    const conv = newId("c");
    const turn = (key: string, content: string) =>
      f.post("/chat/completions", JSON.stringify({ model: "lyra", messages: [{ role: "user", content }] }), {
        Authorization: `Bearer ${key}`,
        "X-Lyra-Conversation": conv,
      });
    expect((await turn(OLD, "How do I keep basil alive?")).status).toBe(200);

    let migrated = 0; // clients below this index use the new key
    const traffic = load(4, (i) => (i < migrated ? NEW : OLD));
    await eventually("requests with the old key answered", () => traffic.ok(OLD) >= 8);
    // The operator's rotation: the new key in the keys file, and in the old key's own tenant; then SIGHUP.
    writeFileSync(keysFile, `# rotated\n${NEW}\n`);
    const tenants = `{ ${keyIdOf(OLD)}: [${keyIdOf(OLD)}, ${keyIdOf(NEW)}] }`;
    const yaml = `serve: { keys_file: ${keysFile}, key_grace_s: ${GRACE_S}, tenants: ${tenants} }\n`;
    const cfg = parseMeshConfig(committeeYaml({ natsUrl: f.server.url }) + yaml, { env: {} });
    const r = reloadKeys(f.serve.keys, cfg, silentLogger);
    expect(r.retiring.map((c) => c.keyId)).toEqual([keyIdOf(OLD)]);
    const oldAfter = traffic.ok(OLD);
    // Clients move over one by one while the old key is still in its grace.
    for (migrated = 1; migrated <= 4; migrated++) {
      const seen = traffic.ok(NEW);
      await eventually(`client ${migrated} answered with the new key`, () => traffic.ok(NEW) > seen);
    }
    expect(traffic.ok(OLD)).toBeGreaterThan(oldAfter);
    t += GRACE_S * 1000;
    const newAtGraceEnd = traffic.ok(NEW);
    await eventually("requests with the new key answered after the grace", () => traffic.ok(NEW) >= newAtGraceEnd + 8);
    await traffic.stop();
    expect(traffic.statuses.filter((s) => s.status !== 200)).toEqual([]);

    const refused = await f.post("/models", null, { Authorization: `Bearer ${OLD}` });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    // The conversation the old key began goes on under the new one.
    expect((await turn(NEW, "Why does it need sun?")).status).toBe(200);
    const users = (await logOf(f.mesh, `${keyIdOf(OLD)}_${conv}`)).filter((e) => e.type === "user_message");
    expect(users.map((e) => (e as { text: string }).text)).toEqual(["How do I keep basil alive?", "Why does it need sun?"]);
  });

  it("an unreadable or empty keys file leaves the keys as they were", () => {
    const dir = mkdtempSync(join(tmpdir(), "serve-keys-"));
    const yaml = (file: string) =>
      parseMeshConfig(committeeYaml({ natsUrl: f.server.url }) + `serve: { keys_file: ${file} }\n`, { env: {} });
    const keys = parseKeys("k-a", "K");
    writeFileSync(join(dir, "empty"), "# nothing yet\n");
    expect(() => reloadKeys(keys, yaml(join(dir, "empty")), silentLogger)).toThrow(/needs API keys.*serve.keys_file/);
    expect(() => reloadKeys(keys, yaml(join(dir, "missing")), silentLogger)).toThrow(/cannot read serve.keys_file/);
    expect(keys.check("Bearer k-a").keyId).toBe(keyIdOf("k-a"));
  });
});

describe("lyra serve (CLI) with serve.keys_file", () => {
  it("re-reads the keys file on SIGHUP, not the environment: the new key works, the old one is refused after key_grace_s", async () => {
    const dir = mkdtempSync(join(tmpdir(), "serve-keys-"));
    const keysFile = join(dir, "serve.env");
    // An env file, as systemd's EnvironmentFile reads it: the process's environment keeps the old key.
    writeFileSync(keysFile, `LYRA_SERVE_KEYS=${OLD}\n`);
    const cfg = writeCommitteeConfig({ natsUrl: f.server.url });
    appendFileSync(cfg, `serve: { port: 0, keys_file: ${keysFile}, key_grace_s: 1 }\n`);
    const p = runLyra(["serve", "--config", cfg], { LYRA_SERVE_KEYS: OLD });
    try {
      await p.waitFor(/OpenAI-compatible API on (http\S+)/, 30_000);
      const url = /OpenAI-compatible API on (http\S+)/.exec(p.output())![1]!;
      const models = (key: string) => fetch(`${url}/models`, { headers: { Authorization: `Bearer ${key}` } }).then((r) => r.status);
      expect(await models(OLD)).toBe(200);
      expect(await models(NEW)).toBe(401);
      writeFileSync(keysFile, "");
      p.proc.kill("SIGHUP");
      await p.waitFor(/could not reload the API keys/);
      expect(await models(OLD)).toBe(200);
      writeFileSync(keysFile, `LITELLM_API_KEY=sk-not-a-serve-key\nLYRA_SERVE_KEYS=${NEW}\n`);
      p.proc.kill("SIGHUP");
      await p.waitFor(/keys reloaded: 1 added, 1 retiring/);
      // The old key was a tenant of its own and the config gives the new one no tenant: the log says what to set.
      await p.waitFor(/conversations do not pass to the new keys/);
      expect(await models(NEW)).toBe(200);
      expect(await models("sk-not-a-serve-key")).toBe(401);
      await eventually("the old key refused after its grace", async () => (await models(OLD)) === 401);
      p.proc.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    } finally {
      p.proc.kill("SIGKILL");
    }
  });
});
