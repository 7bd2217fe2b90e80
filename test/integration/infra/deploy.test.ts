/**
 * The deployment files check out with the tools that read them: promtool (scrape config, alert
 * rules and their unit tests), docker-compose (the compose file), systemd-analyze (the units).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadMeshConfig } from "../../../schemas/config.ts";
import { COMPUTE_DEFAULTS } from "../../../tools/builtin/compute/index.ts";
import { WEB_DEFAULTS } from "../../../tools/builtin/web/index.ts";
import { defaultMemoryPath } from "../../../tools/builtin/memory/index.ts";

const INFRA = fileURLToPath(new URL("../../../infra/", import.meta.url));

/** Runs a tool; a missing binary fails the test with what to install. */
function run(bin: string, args: string[], install: string, o: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(bin, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, encoding: "utf8" });
  if (r.error) throw new Error(`${bin} not found: install it with '${install}' (Debian/Ubuntu; .ci/run does)`);
  return { status: r.status, out: r.stdout + r.stderr };
}
const PROMTOOL = "sudo apt-get install --no-install-recommends prometheus";

describe("infra/prometheus", () => {
  const cwd = join(INFRA, "prometheus");

  it("promtool check config accepts prometheus.yml and the rule files it loads", () => {
    const r = run("promtool", ["check", "config", "prometheus.yml"], PROMTOOL, { cwd });
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: 1 rule files found/);
  });

  it("promtool check rules accepts the alert rules", () => {
    const r = run("promtool", ["check", "rules", "rules/lyra.yml"], PROMTOOL, { cwd });
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: 9 rules found/);
  });

  it("promtool test rules: every alert fires on its failure and stays quiet when healthy", () => {
    const r = run("promtool", ["test", "rules", "tests/lyra.test.yml"], PROMTOOL, { cwd });
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
    // Every rule has a test.
    const rules = (parse(readFileSync(join(cwd, "rules/lyra.yml"), "utf8")) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap(
      (g) => g.rules.map((x) => x.alert),
    );
    const tests = parse(readFileSync(join(cwd, "tests/lyra.test.yml"), "utf8")) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    expect(rules.filter((a) => !firing.has(a))).toEqual([]);
  });

  it("a broken rule test is reported (the check can fail)", () => {
    const dir = mkdtempSync(join(tmpdir(), "lyra-rules-"));
    copyFileSync(join(cwd, "rules/lyra.yml"), join(dir, "lyra.yml"));
    const broken = readFileSync(join(cwd, "tests/lyra.test.yml"), "utf8")
      .replace("../rules/lyra.yml", "lyra.yml")
      .replace('summary: "Role voice answers from its fallback (50%)"', 'summary: "wrong"');
    const path = join(dir, "t.yml");
    writeFileSync(path, broken);
    const r = run("promtool", ["test", "rules", path], PROMTOOL);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/FAILED/);
  });
});

describe("infra/compose.yaml", () => {
  const env = { LITELLM_API_KEY: "test-key", GRAFANA_ADMIN_PASSWORD: "test-password" };
  const compose = (args: string[], e: Record<string, string> = env) =>
    run("docker-compose", ["-f", "compose.yaml", ...args], "sudo apt-get install docker-compose", { cwd: INFRA, env: e });

  it("docker-compose config validates it, with every service the mesh needs", () => {
    const r = compose(["config"]);
    expect(r.status, r.out).toBe(0);
    const cfg = parse(r.out) as {
      services: Record<string, { image?: string; command?: string[]; volumes?: (string | { source: string; target: string })[] }>;
    };
    const all = compose(["--profile", "discord", "--profile", "serve", "config", "--services"]);
    expect(all.out.trim().split("\n").sort()).toEqual([
      "core",
      "discord",
      "grafana",
      "litellm",
      "nats-0",
      "nats-1",
      "nats-2",
      "prometheus",
      "serve",
      "tools",
    ]);
    // Every NATS node runs infra/nats/nats.conf, named by NATS_SERVER_NAME, with its own data volume.
    for (const n of [0, 1, 2]) {
      const node = cfg.services[`nats-${n}`] as {
        command?: string[];
        environment?: Record<string, string>;
        volumes?: (string | { source: string; target: string })[];
      };
      expect(node.command).toEqual(["-c", "/etc/nats/nats.conf"]);
      expect(node.environment?.NATS_SERVER_NAME).toBe(`nats-${n}`);
      // Its leaf node port (a GPU box behind NAT dials it: docs/regions.md) is published.
      const ports = (node as { ports?: { target: number; published: string | number }[] }).ports ?? [];
      expect(String(ports.find((p) => p.target === 7422)?.published), `nats-${n}`).toBe(String(7422 + n));
      expect(node.volumes?.map((v) => (typeof v === "string" ? v : `${v.source}:${v.target}`))).toContainEqual(
        expect.stringMatching(new RegExp(`^nats-${n}-data:/var/lib/nats`)),
      );
    }
    // LiteLLM pinned to a version, never the compromised 1.82.7 or 1.82.8.
    const litellm = cfg.services.litellm!.image!;
    expect(litellm).toMatch(/^ghcr\.io\/berriai\/litellm:v\d+\.\d+\.\d+$/);
    expect(litellm).not.toMatch(/1\.82\.[78]\b/);
    // The lyra services run commands the CLI has.
    const cli = readFileSync(join(INFRA, "../agents/cli/lyra.ts"), "utf8");
    for (const s of ["core", "tools"]) expect(cli).toContain(`\n  ${cfg.services[s]!.command![0]}: {`);
  });

  it("the litellm service gets what lyra litellm-config writes, and the proxy's key from the mesh's variable", () => {
    const out = join(mkdtempSync(join(tmpdir(), "lyra-litellm-")), "config.yaml");
    const r = run(
      process.execPath,
      [join(INFRA, "../agents/cli/lyra.ts"), "litellm-config", "--config", join(INFRA, "../config/mesh.example.yaml"), "--out", out],
      "Node 24",
    );
    expect(r.status, r.out).toBe(0);
    const generated = parse(readFileSync(out, "utf8")) as {
      model_list: { model_name: string }[];
      general_settings: { master_key: string };
    };
    expect(generated.model_list.map((m) => m.model_name)).toEqual([
      "lyra-router",
      "lyra-specialist",
      "lyra-voice",
      "lyra-vision",
      "flux",
      "flux",
      "tts-1",
    ]);
    const cfg = parse(compose(["config"]).out) as {
      services: { litellm: { command: string[]; environment: Record<string, string>; volumes: unknown[] } };
    };
    const env = generated.general_settings.master_key.replace("os.environ/", "");
    expect(cfg.services.litellm.environment[env]).toBe("test-key");
    expect(cfg.services.litellm.command).toEqual(["--config", "/etc/litellm/config.yaml", "--port", "4000"]);
    expect(JSON.stringify(cfg.services.litellm.volumes)).toMatch(/infra\/litellm\/config\.yaml:\/etc\/litellm\/config\.yaml/);
  });

  type Service = {
    image?: string;
    build?: { target?: string };
    command?: string[];
    environment?: Record<string, string>;
    volumes?: (string | { source: string; target: string; type?: string })[];
    healthcheck?: { test?: string[] };
    depends_on?: Record<string, { condition?: string }>;
    deploy?: { resources?: { reservations?: { devices?: { driver: string; device_ids: string[]; capabilities: string[] }[] } } };
  };
  const services = (files: string[]) =>
    (
      parse(
        run(
          "docker-compose",
          [...files.flatMap((f) => ["-f", f]), "--profile", "discord", "--profile", "serve", "config"],
          "sudo apt-get install docker-compose",
          { cwd: INFRA, env },
        ).out,
      ) as { services: Record<string, Service> }
    ).services;
  const mount = (v: string | { source: string; target: string }) => (typeof v === "string" ? v : `${v.source}:${v.target}`);

  it("every service has a healthcheck, the lyra ones on /readyz of their own port, and starts after NATS is healthy", () => {
    const all = services(["compose.yaml"]);
    for (const [name, svc] of Object.entries(all)) {
      expect(svc.healthcheck?.test?.length, `${name} has a healthcheck`).toBeGreaterThan(1);
      if (!svc.image?.startsWith("lyra-mesh")) continue;
      // The check reads LYRA_HEALTH_URL: the process's own port, /readyz.
      const url = new URL(svc.environment!.LYRA_HEALTH_URL!);
      expect(url.hostname, name).toBe("127.0.0.1");
      const portArg = svc.command!.indexOf("--metrics-port");
      expect(url.port, name).toBe(portArg >= 0 ? svc.command![portArg + 1] : "8080");
      expect(url.pathname, name).toBe("/readyz");
      expect(svc.depends_on, name).toEqual(Object.fromEntries([0, 1, 2].map((n) => [`nats-${n}`, { condition: "service_healthy" }])));
    }
  });

  it("the tools image installs bubblewrap, python3 and chromium, pinned, at the paths compute and web run", () => {
    const tools = services(["compose.yaml"]).tools!;
    expect(tools.build?.target).toBe("tools");
    const dockerfile = readFileSync(join(INFRA, "Dockerfile"), "utf8");
    const stage = dockerfile.slice(dockerfile.indexOf("AS tools"));
    for (const pkg of ["bubblewrap", "python3", "chromium"]) expect(stage, pkg).toMatch(new RegExp(`"${pkg}=\\$\\{[A-Z0-9_]+_VERSION\\}"`));
    for (const arg of ["BUBBLEWRAP", "PYTHON3", "CHROMIUM"]) expect(stage).toMatch(new RegExp(`^ARG ${arg}_VERSION=\\d`, "m"));
    // The build fails unless the binaries are where the tool servers look by default.
    for (const path of [COMPUTE_DEFAULTS.bwrap_path, COMPUTE_DEFAULTS.python_path, WEB_DEFAULTS.chromium_path])
      expect(stage).toContain(`test -x ${path}`);
  });

  it("the memory database is on the tools volume, and the artist and speech servers reach the litellm service", async () => {
    const tools = services(["compose.yaml"]).tools!;
    const stateDir = tools.environment!.STATE_DIRECTORY!;
    expect(tools.volumes!.map(mount)).toContainEqual(expect.stringMatching(new RegExp(`^tools-data:${stateDir}(:rw)?$`)));
    expect(readFileSync(join(INFRA, "Dockerfile"), "utf8")).toContain(`chown node:node ${stateDir}`);
    // The example config leaves memory's path to the default, which is under the state directory.
    const cfg = await loadMeshConfig(join(INFRA, "../config/mesh.example.yaml"), tools.environment);
    const memory = cfg.tools.servers.memory as { options?: Record<string, unknown> };
    expect(memory.options?.path).toBeUndefined();
    expect(defaultMemoryPath(tools.environment!)).toBe(join(stateDir, "memory.db"));
    for (const s of ["artist", "speech"]) {
      const server = cfg.tools.servers[s] as { options?: Record<string, unknown> };
      expect(server.options?.base_url, s).toBe(tools.environment!.LITELLM_BASE_URL);
    }
    expect(tools.environment!.LITELLM_BASE_URL).toBe("http://litellm:4000/v1");
  });

  it("lyra compose: compose.gpus.yaml is what it writes for the example config, an Ollama per host on its GPUs and the agent", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "lyra-compose-")), "compose.gpus.yaml");
    const example = join(INFRA, "../config/mesh.example.yaml");
    const r = run(process.execPath, [join(INFRA, "../agents/cli/lyra.ts"), "compose", "--config", example, "--out", out], "Node 24");
    expect(r.status, r.out).toBe(0);
    expect(readFileSync(join(INFRA, "compose.gpus.yaml"), "utf8"), "regenerate infra/compose.gpus.yaml with lyra compose").toBe(
      readFileSync(out, "utf8"),
    );
    const cfg = await loadMeshConfig(example, {});
    const alone = services(["compose.gpus.yaml"]);
    const merged = services(["compose.yaml", "compose.gpus.yaml"]);
    for (const [host, h] of Object.entries(cfg.hosts)) {
      const ollama = alone[`ollama-${host}`]!;
      expect(ollama.image).toMatch(/^ollama\/ollama:\d+\.\d+\.\d+$/);
      expect(ollama.deploy?.resources?.reservations?.devices).toEqual([
        { driver: "nvidia", device_ids: h.gpus!.map(String), capabilities: ["gpu"] },
      ]);
      const agent = merged[`agent-${host}`]!;
      expect(agent.command).toEqual(["agent", "--host", host, "--metrics-port", "9464"]);
      expect(agent.environment?.OLLAMA_HOST).toBe(`http://ollama-${host}:11434`);
      expect(agent.environment?.LYRA_HEALTH_URL).toBe("http://127.0.0.1:9464/readyz");
      expect(agent.environment?.NATS_URL).toBe(merged.core!.environment!.NATS_URL);
      expect(agent.depends_on).toEqual({ [`ollama-${host}`]: { condition: "service_healthy" } });
      for (const svc of [ollama, agent]) expect(svc.healthcheck?.test?.length, host).toBeGreaterThan(1);
    }
  });

  it("refuses to start without the secrets it needs", () => {
    const r = compose(["config", "-q"], { LITELLM_API_KEY: "", GRAFANA_ADMIN_PASSWORD: "" });
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/set LITELLM_API_KEY/);
  });
});

describe("infra/systemd", () => {
  const dir = join(INFRA, "systemd");
  const units = readdirSync(dir).filter((f) => f.endsWith(".service"));

  it("has a unit for every process", () => {
    expect(units.sort()).toEqual([
      "lyra-agent@.service",
      "lyra-core.service",
      "lyra-discord.service",
      "lyra-litellm.service",
      "lyra-nats@.service",
      "lyra-serve.service",
      "lyra-tools.service",
    ]);
  });

  it("lyra-tools has a state directory, where the memory database goes under ProtectSystem=strict", () => {
    const unit = readFileSync(join(dir, "lyra-tools.service"), "utf8");
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    const name = /^StateDirectory=(\S+)$/m.exec(unit)?.[1];
    expect(name).toBe("lyra");
    // systemd passes it as $STATE_DIRECTORY.
    expect(defaultMemoryPath({ STATE_DIRECTORY: `/var/lib/${name}` })).toBe("/var/lib/lyra/memory.db");
  });

  it("each lyra unit counts as started once its /readyz answers, on the port its process serves by default", () => {
    const ports: Record<string, number> = {
      "lyra-agent@.service": 9464,
      "lyra-core.service": 9465,
      "lyra-tools.service": 9466,
      "lyra-discord.service": 9467,
      "lyra-serve.service": 8080,
    };
    for (const [u, port] of Object.entries(ports)) {
      const unit = readFileSync(join(dir, u), "utf8");
      expect(unit, u).toMatch(new RegExp(`^Environment=LYRA_READY_URL=http://127\\.0\\.0\\.1:${port}/readyz$`, "m"));
      const post = /^ExecStartPost=-(\S+) (\S+) \$\{LYRA_READY_URL\} (\d+)$/m.exec(unit);
      expect(post?.[2], u).toBe("/opt/lyra/infra/systemd/wait-ready.js");
      expect(Number(/^TimeoutStartSec=(\d+)$/m.exec(unit)?.[1]), u).toBeGreaterThan(Number(post?.[3]));
    }
    expect(existsSync(join(dir, "wait-ready.js"))).toBe(true);
    expect(readFileSync(join(dir, "lyra-serve.service"), "utf8")).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  });

  it("systemd-analyze verify finds nothing wrong but the binaries this machine lacks", () => {
    const tmp = mkdtempSync(join(tmpdir(), "lyra-units-"));
    for (const u of units) {
      // A template is verified as an instance.
      const name = u.replace("@.service", "@x1.service");
      copyFileSync(join(dir, u), join(tmp, name));
      const r = run("systemd-analyze", ["verify", "--man=no", join(tmp, name)], "sudo apt-get install systemd");
      const problems = r.out.split("\n").filter((l) => l.trim() && !/Command .* is not executable: No such file or directory/.test(l));
      expect(problems, u).toEqual([]);
    }
  });
});
