import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SENT_BUCKET, STATE_BUCKET } from "../../../agents/frontdoors/discord/state.ts";
import { DISCORD_STATE_BUCKETS, meshUsers, renderAuthConf } from "../../../mesh/auth/index.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";

const example = parseMeshConfig(readFileSync(new URL("../../../config/mesh.example.yaml", import.meta.url), "utf8"), { env: {} });

describe("meshUsers", () => {
  const users = meshUsers(example);
  const byName = new Map(users.map((u) => [u.name, u]));

  it("has a user per agent host and one per other process", () => {
    expect(users.map((u) => u.name)).toEqual([
      ...Object.keys(example.hosts).map((h) => `agent-${h}`),
      "core",
      "tools",
      "discord",
      "serve",
      "cli",
    ]);
  });

  it("never grants a full wildcard, the whole JetStream API, or another user's inbox", () => {
    for (const u of users) {
      for (const s of [...u.publish, ...u.subscribe]) {
        expect(s, u.name).not.toMatch(/^(>|\$JS\.API\.>|\$JS\.>|_INBOX\.>)$/);
        if (s.startsWith("_INBOX.") && !s.endsWith(".ctl")) expect(s.startsWith(`${u.inboxPrefix}.`), `${u.name}: ${s}`).toBe(true);
      }
    }
  });

  it("gives an agent its roles in the agents queue group, and tool calls only for its grants", () => {
    const host = Object.entries(example.hosts).find(([, h]) => h.roles.some((r) => example.roles[r]!.tools.length > 0))!;
    const u = byName.get(`agent-${host[0]}`)!;
    for (const r of host[1].roles) expect(u.subscribe).toContain(`lyra.${r} agents`);
    const others = Object.keys(example.roles).filter((r) => !host[1].roles.includes(r));
    for (const r of others) expect(u.subscribe.some((s) => s.startsWith(`lyra.${r}`))).toBe(false);
    const calls = u.publish.filter((s) => s.includes(".tools.call."));
    const expected = host[1].roles.flatMap((r) =>
      example.roles[r]!.tools.map((g) => `mcp.v1.req.${example.mesh.name}.${r}.${g.replace(".", ".tools.call.")}`),
    );
    expect(calls.sort()).toEqual(expected.sort());
    expect(u.responses).toBe(true);
  });

  it("writes a leaf user for a host on a leaf node: the agent's subjects in any queue group, replies to any inbox", () => {
    const yaml = readFileSync(new URL("../../../config/mesh.example.yaml", import.meta.url), "utf8").replace(
      "    roles: [voice]\n",
      "    roles: [voice]\n    leaf: true\n",
    );
    const cfg = parseMeshConfig(yaml, { env: {} });
    const [host] = Object.entries(cfg.hosts).find(([, h]) => h.leaf)!;
    const all = meshUsers(cfg);
    const agent = all.find((u) => u.name === `agent-${host}`)!;
    const leaf = all.find((u) => u.name === `leaf-${host}`)!;
    expect(all.at(-1)).toBe(leaf);
    expect(leaf).toMatchObject({ kind: "leaf", inboxPrefix: agent.inboxPrefix, responses: false });
    expect(leaf.subscribe).toEqual(agent.subscribe.map((s) => s.split(" ")[0]));
    expect(leaf.publish).toEqual([...agent.publish, "_INBOX.>"]);
    expect(meshUsers(example).some((u) => u.kind === "leaf")).toBe(false);
  });

  it("lets nobody purge or delete a stream, nor reach another process's durable consumer", () => {
    for (const u of users) {
      for (const s of u.publish) expect(s, u.name).not.toMatch(/^\$JS\.API\.STREAM\.(DELETE|PURGE)\.(LYRA_|OBJ_LYRA_MEDIA)/);
      // Every `*` consumer grant on the outbox comes with a deny of Discord's durable.
      const reachesOutbox = u.publish.some((s) => s.startsWith("$JS.API.CONSUMER.") && s.includes(".LYRA_OUTBOX.*"));
      if (u.name !== "discord") expect(u.publishDeny.includes("$JS.API.CONSUMER.*.*.LYRA_OUTBOX.discord"), u.name).toBe(reachesOutbox);
    }
    expect(byName.get("discord")!.publish).toContain("$JS.API.CONSUMER.MSG.NEXT.LYRA_OUTBOX.discord");
  });

  it("gives the tool host alone the result cache's bucket (tools.cache.bucket), and none when the cache is off", () => {
    const holders = users.filter((u) => u.publish.includes("$KV.LYRA_TOOL_CACHE.>")).map((u) => u.name);
    expect(holders).toEqual(["tools"]);
    const off = meshUsers({ ...example, tools: { ...example.tools, cache: { ...example.tools.cache, enabled: false } } });
    expect(off.find((u) => u.name === "tools")!.publish.some((s) => s.includes("LYRA_TOOL_CACHE"))).toBe(false);
  });

  it("names the Discord door's state buckets as the door does", () => {
    expect([...DISCORD_STATE_BUCKETS]).toEqual([STATE_BUCKET, SENT_BUCKET]);
  });

  it("renders a nats-server accounts block with one nkey user each", () => {
    const conf = renderAuthConf(
      users.map((u, i) => ({ ...u, nkey: `UKEY${i}` })),
      "mesh.yaml",
    );
    expect(conf).toContain("jetstream: enabled");
    expect(conf).toMatch(/^system_account: SYS$/m); // gateways with leaf nodes need one
    expect(conf.match(/nkey: "UKEY\d+"/g)?.length).toBe(users.length);
    expect(conf.match(/allow_responses/g)?.length).toBe(users.filter((u) => u.responses).length);
    expect(conf).toContain('publish: { allow: ["$JS.API.INFO"');
    expect(conf).toMatch(/publish: \{ allow: \[[^\]]*\], deny: \["\$JS\.API\.CONSUMER\.\*\.LYRA_OUTBOX\.discord"/);
  });
});

describe("NATS identity from the environment", () => {
  it("NATS_NKEY_FILE, NATS_INBOX_PREFIX and NATS_CA_FILE override the config", () => {
    const yaml = readFileSync(new URL("../../../config/mesh.example.yaml", import.meta.url), "utf8");
    const cfg = parseMeshConfig(yaml, {
      env: { NATS_NKEY_FILE: "/run/lyra/core.nk", NATS_INBOX_PREFIX: "_INBOX.core", NATS_CA_FILE: "/etc/lyra/ca.pem" },
    });
    expect(cfg.nats.nkey_file).toBe("/run/lyra/core.nk");
    expect(cfg.nats.inbox_prefix).toBe("_INBOX.core");
    expect(cfg.nats.tls?.ca_file).toBe("/etc/lyra/ca.pem");
  });

  it("refuses an inbox prefix with a wildcard, naming the variable", () => {
    const yaml = readFileSync(new URL("../../../config/mesh.example.yaml", import.meta.url), "utf8");
    expect(() => parseMeshConfig(yaml, { env: { NATS_INBOX_PREFIX: "_INBOX.*" } })).toThrow(
      /nats\.inbox_prefix \(from environment variable NATS_INBOX_PREFIX\)/,
    );
  });
});
