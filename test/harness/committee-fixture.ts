/**
 * A whole committee for tests: a mesh config with scripted roles (deterministic, optionally slow),
 * an agent host and a conductor, in this process or as child processes of the real CLI.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseMeshConfig, type MeshConfig } from "../../schemas/config.ts";

export const LYRA_CLI = fileURLToPath(new URL("../../agents/cli/lyra.ts", import.meta.url));

export interface CommitteeYamlOptions {
  natsUrl: string;
  /** Per-word delay of the specialists and voice, ms; default 0. */
  delayMs?: number;
  /** Extra YAML appended under `conductor:`. */
  ackWaitMs?: number;
  /** Roles the host serves; default all four. */
  hostRoles?: string[];
  /** Roles' backend; default scripted. */
  backend?: "scripted" | "ollama";
  ollamaUrl?: string;
  /** Ollama model names (ollama backend). */
  model?: string;
  /** Every role's slots (requests run at once); default 4. */
  slots?: number;
  /** Every role's admission queue; default the config's (4). */
  queue?: number;
  /** conductor.max_parallel; default the config's (8). */
  maxParallel?: number;
  /** conductor.atomic_log; default the config's (false). */
  atomicLog?: boolean;
  /**
   * Defines the built-in clock tool server and grants `clock.now` to the pragmatist, whose script
   * then reads the clock for a "time" question (one tool round) before answering; default false.
   */
  clock?: boolean;
  /** The config's `jetstream:` section, key by key (such as duplicate_window: "60s"); default none. */
  jetstream?: Record<string, string>;
  /** Every role's `cache:` (roles.<role>.cache, as YAML flow, such as "{ ttl_s: 600 }"); default none. */
  cache?: string;
}

/** The YAML `clock: true` adds: the tool server, the grant, the tool-calling rule. */
const CLOCK_YAML = {
  servers: "tools: { servers: { clock: { builtin: clock } } }",
  grant: "    tools: [clock.now]",
  rule:
    '      - { match: "\\\\btime\\\\b", tool_call: { name: clock__now, arguments: ' +
    '{ timezone: UTC } }, reply: "Pragmatist read the clock: {tool_result}", delay_ms: DELAY }',
};

/** Router: "why/meaning" → philosopher, else pragmatist. Specialists answer with a fixed sentence. */
export function committeeYaml(o: CommitteeYamlOptions): string {
  const d = o.delayMs ?? 0;
  const backend = o.backend ?? "scripted";
  const model = o.model ?? "qwen3:4b";
  const cap =
    `slots: ${o.slots ?? 4}${o.queue !== undefined ? `\n    queue: ${o.queue}` : ""}` + (o.cache ? `\n    cache: ${o.cache}` : "");
  return `
mesh: { name: test, owner: tester }
nats: { servers: ["${o.natsUrl}"] }
roles:
  router:
    kind: router
    model: ${model}
    backend: ${backend}
    ${cap}
    script:
      - { match: "\\\\b(why|meaning)\\\\b", json: { specialist: philosopher, confidence: 0.9, reason: "a why-question" } }
      - { match: "off-schema", json: { pick: nobody } }
      - { json: { specialist: pragmatist, confidence: 0.8, reason: "a practical question" } }
  pragmatist:
    model: ${model}
    backend: ${backend}
    description: practical how-to answers
    ${cap}
    ${o.clock ? `${CLOCK_YAML.grant.trim()}\n    ` : ""}script:
${o.clock ? `${CLOCK_YAML.rule.replace("DELAY", String(d))}\n` : ""}      - { reply: "Pragmatist answer to: {input}", delay_ms: ${d} }
  philosopher:
    model: ${model}
    backend: ${backend}
    description: why and meaning
    ${cap}
    script:
      - { reply: "Philosopher musing on: {input}", delay_ms: ${d} }
  voice:
    kind: voice
    model: ${model}
    backend: ${backend}
    ${cap}
    script:
      - { reply: "Lyra says: {input}", delay_ms: ${d} }
router: { default_specialist: pragmatist }
${o.clock ? CLOCK_YAML.servers : ""}
hosts:
  local:
    ${o.ollamaUrl ? `ollama_url: ${o.ollamaUrl}` : ""}
    roles: [${(o.hostRoles ?? ["router", "pragmatist", "philosopher", "voice"]).join(", ")}]
${
  o.jetstream
    ? `jetstream: { ${Object.entries(o.jetstream)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ")} }\n`
    : ""
}conductor: { ack_wait_ms: ${o.ackWaitMs ?? 5000}, max_deliver: 5${o.maxParallel ? `, max_parallel: ${o.maxParallel}` : ""}${
    o.atomicLog === undefined ? "" : `, atomic_log: ${o.atomicLog}`
  } }
`;
}

export function committeeConfig(o: CommitteeYamlOptions): MeshConfig {
  return parseMeshConfig(committeeYaml(o), { source: "test committee", env: {} });
}

/** Writes the YAML to a temp file, for child processes. */
export function writeCommitteeConfig(o: CommitteeYamlOptions): string {
  const dir = mkdtempSync(join(tmpdir(), "lyra-cfg-"));
  const path = join(dir, "mesh.yaml");
  writeFileSync(path, committeeYaml(o));
  return path;
}

export interface CliProcess {
  proc: ChildProcess;
  /** stdout and stderr, interleaved. */
  output(): string;
  /** stdout alone. */
  stdout(): string;
  /** Resolves when a line matching `re` has been printed (stdout or stderr). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** Runs `lyra <args>` as a child process (Node runs the .ts directly). */
export function runLyra(args: string[], env: Record<string, string> = {}): CliProcess {
  const proc = spawn(process.execPath, [LYRA_CLI, ...args], {
    env: { ...process.env, LYRA_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stdout = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      if (!w.re.test(out)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    stdout: () => stdout,
    exited,
    waitFor(re, timeoutMs = 20_000) {
      if (re.test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in lyra ${args.join(" ")}; output:\n${out}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(t), resolve()) });
        void exited.then((code) => reject(new Error(`lyra ${args.join(" ")} exited (${code}) before ${re}; output:\n${out}`)));
      });
    },
  };
}
