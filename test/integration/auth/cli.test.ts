/** `lyra auth` as a user runs it: files, modes, kept seeds, and a config it refuses. */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runLyra } from "../../harness/committee-fixture.ts";
import { generateAuth } from "./helpers.ts";

const YAML = `
mesh: { name: test, owner: tester }
roles:
  voice: { kind: voice, model: m, backend: scripted, script: [{ reply: v }] }
hosts:
  gpu-a: { roles: [voice] }
`;

describe("lyra auth", () => {
  it("writes secrets 0600, keeps existing seeds on a re-run, and creds/ is ignored by git", async () => {
    const first = await generateAuth(YAML);
    const users = ["agent-gpu-a", "core", "tools", "discord", "serve", "cli"];
    for (const u of users) {
      for (const f of [`${u}.nk`, `${u}.env`]) expect(statSync(join(first.dir, f)).mode & 0o777, f).toBe(0o600);
      expect(readFileSync(join(first.dir, `${u}.nk`), "utf8")).toMatch(/^SU[A-Z2-7]{56}\n$/);
      expect(first.env(u).NATS_INBOX_PREFIX).toBe(`_INBOX.${u}`);
    }
    expect(statSync(join(first.dir, "auth.conf")).mode & 0o777).toBe(0o600);
    expect(first.conf).not.toMatch(/SU[A-Z2-7]{56}/); // public keys only
    const keys = first.conf.match(/nkey: "U[A-Z2-7]{55}"/g);
    expect(keys?.length).toBe(users.length);

    // Re-run into the same directory: the same keys, the config's new host added.
    writeFileSync(first.configFile, YAML.replace("gpu-a: { roles: [voice] }", "gpu-a: { roles: [voice] }\n  gpu-b: { roles: [voice] }"));
    const again = runLyra(["auth", "--config", first.configFile, "--out", first.dir]);
    expect(await again.exited, again.output()).toBe(0);
    const conf = readFileSync(join(first.dir, "auth.conf"), "utf8");
    for (const k of keys!) expect(conf).toContain(k);
    expect(conf).toContain("# agent-gpu-b (agent)");

    const ignore = readFileSync(new URL("../../../.gitignore", import.meta.url), "utf8");
    expect(ignore.split("\n")).toContain("creds/");
  }, 30_000);

  it("refuses a bad config with the config's own message and writes nothing", async () => {
    const p = runLyra(["auth", "--config", "/nonexistent/mesh.yaml", "--out", "/tmp/never-written-lyra-auth"]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain("cannot read the configuration file");
    expect(() => statSync("/tmp/never-written-lyra-auth")).toThrow();
  }, 30_000);
});
