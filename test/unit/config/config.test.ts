import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadMeshConfig, parseMeshConfig, SchemaError } from "../../../schemas/index.ts";

const root = new URL("../../../", import.meta.url).pathname;
const SRC = "config/mesh.yaml";

/** A small valid file; tests break one thing in it. */
const base = (extra = "", roles = "  pragmatist: { model: 'qwen3:8b' }\n") => `
mesh: { name: lyra, owner: ops }
roles:
${roles}hosts:
  local: { roles: [pragmatist] }
${extra}`;

/** A router role with a classifier over `examples` (YAML flow mapping). */
const ROUTER = (examples: string, extra = "", threshold = "0.5") =>
  `  router: { model: m, kind: router, classifier: { embed_model: all-minilm, threshold: ${threshold}${extra}, examples: ${examples} } }\n`;

/** The ConfigError a document is refused with. */
function refusal(yaml: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseMeshConfig(yaml, { source: SRC, env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected the configuration to be refused");
}

describe("shipped configuration files", () => {
  it("config/mesh.dev.yaml parses: four roles on the real small model, each with script rules for --scripted", async () => {
    const cfg = await loadMeshConfig(join(root, "config/mesh.dev.yaml"), {});
    expect(Object.keys(cfg.roles)).toEqual(["router", "pragmatist", "philosopher", "voice"]);
    expect(Object.values(cfg.roles).every((r) => r.backend === "ollama" && r.model === "smollm2:135m" && r.script?.length)).toBe(true);
    // Short generations: a turn takes seconds on two CPU cores.
    expect(Object.values(cfg.roles).every((r) => r.max_tokens !== undefined && r.max_tokens <= 128)).toBe(true);
    expect(cfg.tools.servers.memory).toMatchObject({ builtin: "memory", options: { embedding_model: "all-minilm" } });
    expect(cfg.memory?.auto_recall).toBe(true);
    expect(cfg.hosts.local?.roles).toHaveLength(4);
    expect(cfg.router?.default_specialist).toBe("pragmatist");
    expect(cfg.jetstream.log_max_bytes).toBe(256 * 1024 ** 2);
  });

  it("config/mesh.example.yaml parses: six roles on five GPU hosts with fallbacks", async () => {
    const cfg = await loadMeshConfig(join(root, "config/mesh.example.yaml"), {});
    expect(Object.keys(cfg.hosts)).toEqual(["gpu-0", "gpu-1", "gpu-2", "gpu-3", "gpu-5"]);
    // The artist next to the image model on the seed's GPU 5; the vision role with vision on.
    expect(cfg.hosts["gpu-5"]?.roles).toEqual(["artist"]);
    expect(cfg.roles.artist?.tools).toEqual(expect.arrayContaining(["artist.generate_image", "speech.speak"]));
    expect(cfg.roles.perception).toMatchObject({ vision: true, tools: [] });
    expect(Object.keys(cfg.tools.servers)).toEqual(expect.arrayContaining(["artist", "speech", "perception"]));
    expect(cfg.hosts["gpu-0"]?.roles).toEqual(["router"]);
    expect(cfg.roles.router).toMatchObject({ kind: "router", model: "qwen3:4b" });
    expect(Object.keys(cfg.roles)).toEqual(expect.arrayContaining(["perception", "artist"]));
    expect(Object.values(cfg.roles).every((r) => r.fallback)).toBe(true);
    expect(cfg.jetstream).toMatchObject({ replicas: 3, log_max_age: 30 * 86_400_000, duplicate_window: 7_200_000 });
    expect(cfg.litellm?.api_key_env).toBe("LITELLM_API_KEY");
    // The router's classifier: examples for every specialist (test/fixtures/router-set.json is the test set).
    expect(cfg.roles.router?.classifier).toMatchObject({ embed_model: "all-minilm", threshold: 0.7, embed_timeout_ms: 5000 });
    expect(Object.keys(cfg.roles.router?.classifier?.examples ?? {})).toEqual(["pragmatist", "philosopher", "artist", "perception"]);
  });
});

describe("defaults", () => {
  it("fills role, host, nats, jetstream and conductor defaults", () => {
    const cfg = parseMeshConfig(base(), { env: {} });
    expect(cfg.roles.pragmatist).toEqual({
      model: "qwen3:8b",
      backend: "ollama",
      kind: "specialist",
      slots: 1,
      queue: 4,
      tools: [],
      max_tool_steps: 6,
      tool_timeout_ms: 30_000,
      first_token_timeout_ms: 20_000,
      vision: false,
      num_ctx: 4096,
      keep_alive: "30m",
      tool_mode: "auto",
    });
    expect(cfg.hosts.local?.ollama_url).toBe("http://127.0.0.1:11434");
    expect(cfg.nats).toEqual({ servers: ["nats://127.0.0.1:4222"], encoding: "msgpack" });
    expect(cfg.jetstream).toMatchObject({ replicas: 1, storage: "file", inbox_max_age: 86_400_000 });
    expect(cfg.conductor).toEqual({
      history_turns: 10,
      history_bytes: 16_384,
      max_parallel: 8,
      max_deliver: 5,
      step_timeout_ms: 120_000,
      atomic_log: false,
      ack_wait_ms: 60_000,
      pipeline: true,
      segment_sentences: 2,
      segment_min_chars: 80,
      shadow_concurrency: 4,
    });
    expect(cfg.litellm).toBeUndefined();
  });
});

describe("environment overrides", () => {
  it("NATS_URL, OLLAMA_HOST and LITELLM_BASE_URL replace the file's connection settings", () => {
    const yaml = base("litellm: { base_url: 'http://file:4000/v1' }\nnats: { servers: 'nats://file:4222' }\n");
    const cfg = parseMeshConfig(yaml, {
      env: { NATS_URL: "nats://a:4222, nats://b:4222", OLLAMA_HOST: "10.0.0.5", LITELLM_BASE_URL: "http://env:4000/v1" },
    });
    expect(cfg.nats.servers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(cfg.hosts.local?.ollama_url).toBe("http://10.0.0.5:11434");
    expect(cfg.litellm?.base_url).toBe("http://env:4000/v1");
  });

  it("LITELLM_BASE_URL alone supplies the litellm section a fallback needs", () => {
    const cfg = parseMeshConfig(base("", "  pragmatist: { model: 'qwen3:8b', fallback: lyra-specialist }\n"), {
      env: { LITELLM_BASE_URL: "http://env:4000/v1" },
    });
    expect(cfg.litellm).toEqual({ base_url: "http://env:4000/v1", api_key_env: "LITELLM_API_KEY" });
  });

  it("LYRA_REGION sets mesh.region; hosts.*.region is a name", () => {
    const yaml = base().replace("mesh: { name: lyra, owner: ops }", "mesh: { name: lyra, owner: ops, region: eu }");
    expect(parseMeshConfig(yaml).mesh.region).toBe("eu");
    expect(parseMeshConfig(yaml, { env: { LYRA_REGION: "us" } }).mesh.region).toBe("us");
    expect(parseMeshConfig(base().replace("roles: [pragmatist] }", "roles: [pragmatist], region: us }")).hosts.local?.region).toBe("us");
    expect(refusal(base(), { LYRA_REGION: "Not A Name" }).message).toContain("mesh.region (from environment variable LYRA_REGION)");
  });

  it("the artist and speech servers reach the proxy of litellm.base_url, and LITELLM_BASE_URL replaces theirs too", () => {
    const servers =
      "tools: { servers: { art: { builtin: artist, options: { base_url: 'http://127.0.0.1:4000/v1' } }, say: { builtin: speech }, " +
      "img: { builtin: artist, options: { base_url: 'http://images:9000/v1', api_key_env: IMG_KEY } }, clock: { builtin: clock } } }\n";
    const yaml = base(`${servers}litellm: { base_url: 'http://file:4000/v1', api_key_env: MESH_KEY }\n`);
    const options = (env: NodeJS.ProcessEnv) =>
      Object.fromEntries(
        Object.entries(parseMeshConfig(yaml, { env }).tools.servers).map(([n, s]) => [n, "builtin" in s ? s.options : undefined]),
      );
    // From the file: an explicit base_url stays, a missing one is litellm's, and so is the key's variable.
    expect(options({})).toEqual({
      art: { base_url: "http://127.0.0.1:4000/v1", api_key_env: "MESH_KEY" },
      say: { base_url: "http://file:4000/v1", api_key_env: "MESH_KEY" },
      img: { base_url: "http://images:9000/v1", api_key_env: "IMG_KEY" },
      clock: undefined,
    });
    // In a container: the proxy's address from the environment, for every media server.
    const env = options({ LITELLM_BASE_URL: "http://litellm:4000/v1" });
    expect([env.art?.base_url, env.say?.base_url, env.img?.base_url]).toEqual(Array(3).fill("http://litellm:4000/v1"));
    expect(env.clock).toBeUndefined();
    // A rotating key (litellm.api_key_file) is theirs too.
    const rotating = base(`${servers}litellm: { base_url: 'http://file:4000/v1', api_key_file: /etc/lyra/litellm.key }\n`);
    const media = parseMeshConfig(rotating, { env: {} }).tools.servers;
    expect(["art", "say", "img"].map((n) => (media[n] as { options?: { api_key_file?: string } }).options?.api_key_file)).toEqual(
      Array(3).fill("/etc/lyra/litellm.key"),
    );
  });

  it("a bad override is reported with the variable it came from", () => {
    const e = refusal(base(), { NATS_URL: "   " });
    expect(e.message).toContain("nats.servers (from environment variable NATS_URL)");
  });
});

describe("refused files: the message names the file, the field, the value and the fix", () => {
  const cases: [string, string, RegExp][] = [
    [
      "unknown key (typo)",
      base("", "  pragmatist: { modle: 'qwen3:8b', model: x }\n"),
      /^config\/mesh\.yaml: roles\.pragmatist has unknown key 'modle'; remove or correct it \(allowed: model, backend/,
    ],
    [
      "missing model",
      base("", "  pragmatist: { slots: 2 }\n"),
      /^config\/mesh\.yaml: roles\.pragmatist\.model is missing; set roles\.pragmatist\.model to an Ollama model name such as 'qwen3:8b'$/,
    ],
    [
      "bad role name",
      base("", "  pragmatist: { model: m }\n  Deep_Thought: { model: m }\n"),
      /roles\.Deep_Thought is not a usable role name .*; rename it with lowercase letters/,
    ],
    [
      "reserved role name",
      base("", "  pragmatist: { model: m }\n  inbox: { model: m }\n"),
      /roles\.inbox is not a usable role name \(this role name is reserved\)/,
    ],
    [
      "host role not defined",
      base().replace("[pragmatist]", "[pragmatist, oracle]"),
      /hosts\.local\.roles\[1\] is 'oracle', which is not defined under roles; define roles\.oracle or remove it/,
    ],
    [
      "default_specialist not a specialist",
      base("router: { default_specialist: voice }\n", "  pragmatist: { model: m }\n  voice: { model: m, kind: voice }\n"),
      /router\.default_specialist is 'voice', which is not a role of kind specialist; set it to one of: pragmatist/,
    ],
    [
      "fallback without litellm",
      base("", "  pragmatist: { model: m, fallback: lyra-specialist }\n"),
      /roles\.pragmatist\.fallback is 'lyra-specialist' but there is no litellm section; add litellm\.base_url/,
    ],
    [
      "negative slots",
      base("", "  pragmatist: { model: m, slots: -2 }\n"),
      /roles\.pragmatist\.slots is -2, which is not valid .*; set roles\.pragmatist\.slots to a whole number of at least 1/,
    ],
    [
      "bad backend",
      base("", "  pragmatist: { model: m, backend: vllm }\n"),
      /roles\.pragmatist\.backend is "vllm", which is not valid .*; set roles\.pragmatist\.backend to ollama, openai or scripted/,
    ],
    [
      "wrong type",
      base("", "  pragmatist: { model: m, temperature: warm }\n"),
      new RegExp(
        String.raw`roles\.pragmatist\.temperature is "warm", which is not valid \(.*expected number.*\); ` +
          String.raw`set roles\.pragmatist\.temperature to a number from 0 to 2`,
      ),
    ],
    [
      "empty roles",
      "mesh: { name: lyra, owner: ops }\nroles: {}\nhosts: { local: { roles: [x] } }\n",
      /roles is empty; define at least one role/,
    ],
    [
      "scripted without script",
      base("", "  pragmatist: { model: m, backend: scripted }\n"),
      /roles\.pragmatist\.script is missing but backend is 'scripted'; add script rules/,
    ],
    [
      "bad regex in a script",
      base("", "  pragmatist: { model: m, backend: scripted, script: [{ match: '(unclosed', reply: hi }] }\n"),
      new RegExp(
        String.raw`roles\.pragmatist\.script\[0\]\.match is "\(unclosed", which is not valid .*; ` +
          String.raw`set roles\.pragmatist\.script\[0\]\.match to a valid regular expression`,
      ),
    ],
    [
      "a key pasted where its variable name goes",
      base("litellm: { base_url: 'http://l:4000/v1', api_key_env: 'sk-abc123' }\n"),
      /litellm\.api_key_env is "sk-abc123", .* the NAME of the environment variable .* \(never the key itself\)/,
    ],
    [
      "missing mesh section",
      "roles: { a: { model: m } }\nhosts: { h: { roles: [a] } }\n",
      /^config\/mesh\.yaml: mesh is missing; set mesh to/,
    ],
    [
      "unknown top-level key",
      base("jetsream: { replicas: 3 }\n"),
      /the top level has unknown key 'jetsream'; remove or correct it \(allowed: mesh, nats, roles, router, hosts, litellm, jetstream/,
    ],
    [
      "classifier on a specialist",
      base("", "  pragmatist: { model: m, classifier: { embed_model: e, threshold: 0.5, examples: { pragmatist: [a] } } }\n"),
      /roles\.pragmatist\.classifier is set on a role of kind 'specialist'; only a router has a classifier/,
    ],
    [
      "classifier examples for an unknown specialist",
      base("", `${ROUTER("{ pragmatist: [a], poet: [b] }")}  pragmatist: { model: m }\n`),
      /roles\.router\.classifier\.examples\.poet is not a role of kind specialist; use one of: pragmatist/,
    ],
    [
      "classifier with one specialist",
      base("", `${ROUTER("{ pragmatist: [a] }")}  pragmatist: { model: m }\n`),
      /roles\.router\.classifier\.examples names 1 specialist\(s\); give examples for two at least \(specialists: pragmatist\)/,
    ],
    [
      "classifier k above a specialist's examples",
      base("", `${ROUTER("{ pragmatist: [a, b], philosopher: [c] }", ", k: 2")}  pragmatist: { model: m }\n  philosopher: { model: m }\n`),
      /roles\.router\.classifier\.examples\.philosopher has 1 example\(s\), fewer than k \(2\); add examples or lower classifier\.k/,
    ],
    [
      "classifier threshold above 1",
      base("", `${ROUTER("{ pragmatist: [a], philosopher: [b] }", "", "1.5")}  pragmatist: { model: m }\n  philosopher: { model: m }\n`),
      /classifier\.threshold is 1\.5, which is not valid .*; set roles\.router\.classifier\.threshold to a number from 0 to 1 /,
    ],
    [
      "classifier without examples",
      base("", "  router: { model: m, kind: router, classifier: { embed_model: e, threshold: 0.5 } }\n  pragmatist: { model: m }\n"),
      /roles\.router\.classifier\.examples is missing/,
    ],
    [
      "bad duration",
      base("jetstream: { log_max_age: 'a month' }\n"),
      /jetstream\.log_max_age is "a month", .*; set jetstream\.log_max_age to a duration such as '30d'/,
    ],
    [
      "tool cache max TTL below 1 s",
      base("tools: { cache: { max_ttl_s: 0 } }\n"),
      /tools\.cache\.max_ttl_s is 0, .*; set tools\.cache\.max_ttl_s to a whole number of seconds from 1/,
    ],
    ["tool cache bucket not a KV name", base("tools: { cache: { bucket: 'a b' } }\n"), /tools\.cache\.bucket is "a b", .*KV bucket name/],
  ];
  it.each(cases)("%s", (_name, yaml, expected) => {
    const e = refusal(yaml);
    expect(e.message).toMatch(expected);
    expect(e.message.startsWith(SRC)).toBe(true);
    expect(e.code).toBe("invalid_config");
    expect(e).toBeInstanceOf(SchemaError);
  });

  it("a YAML syntax error reports its line", () => {
    const e = refusal("mesh: { name: lyra, owner: ops }\nroles:\n  pragmatist: { model: m\nhosts: {}\n");
    expect(e.message).toMatch(/^config\/mesh\.yaml:\d+:\d+: YAML syntax error: .*; fix the YAML at line \d+/);
    const dup = refusal("mesh: { name: lyra, owner: ops }\nmesh: { name: x, owner: y }\n");
    expect(dup.message).toMatch(/^config\/mesh\.yaml:2:1: YAML syntax error: Map keys must be unique/);
  });

  it("an empty file and a missing file are refused with what to do", async () => {
    expect(refusal("").message).toBe("config/mesh.yaml: the file is empty or not a mapping; start from config/mesh.example.yaml");
    const dir = await mkdtemp(join(tmpdir(), "lyra-config-"));
    await expect(loadMeshConfig(join(dir, "nope.yaml"), {})).rejects.toThrow(
      /nope\.yaml: cannot read the configuration file \(ENOENT\); check the path/,
    );
    await writeFile(join(dir, "bad.yaml"), base("", "  pragmatist: { slots: 1 }\n"));
    await expect(loadMeshConfig(join(dir, "bad.yaml"), {})).rejects.toThrow(`${join(dir, "bad.yaml")}: roles.pragmatist.model is missing`);
  });

  it("lists several problems at once, one per line", () => {
    const e = refusal(base("", "  pragmatist: { slots: 0, queue: -1 }\n"));
    expect(e.issues.length).toBe(3);
    expect(e.issues.every((l) => l.startsWith(`${SRC}: roles.pragmatist.`))).toBe(true);
  });
});

describe("usage: prices and budgets", () => {
  it("defaults to no prices and no budgets; the example's budgets read as written, a user's entry replacing the default", async () => {
    const cfg = parseMeshConfig(base(), { source: SRC, env: {} });
    expect(cfg.usage).toEqual({ prices: {} });
    const ex = await loadMeshConfig(join(root, "config/mesh.example.yaml"), {});
    expect(ex.usage.prices["lyra-voice"]).toEqual({ input: 0.15, output: 0.6 });
    expect(ex.usage.budgets).toMatchObject({ default: { tokens: 200_000 }, bucket: "LYRA_USAGE" });
    expect(ex.usage.budgets?.users["ops-bot"]).toEqual({});
  });

  it("refuses a negative price or budget, and an unknown key, saying what to write", () => {
    expect(refusal(base("usage: { prices: { m: { input: -1, output: 1 } } }\n")).message).toMatch(
      /usage\.prices\.m\.input is -1, which is not valid/,
    );
    expect(refusal(base("usage: { budgets: { default: { tokens: -5 } } }\n")).message).toMatch(
      /usage\.budgets\.default\.tokens is -5, .*set usage\.budgets\.default\.tokens to a whole number of tokens a day/,
    );
    expect(refusal(base("usage: { budgets: { default: { dollars: 5 } } }\n")).message).toMatch(
      /usage\.budgets\.default has unknown key 'dollars'.*allowed: tokens, usd/,
    );
  });
});
