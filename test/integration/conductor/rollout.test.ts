/**
 * Rollout and A/B variants through the whole committee: a real nats-server, the agent host over the
 * Ollama double (each variant its own model, so every answer says which one wrote it) and the
 * conductor. Weights come from the config and from the LYRA_ROLLOUT bucket, changed while turns run.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { startConductor, type ConductorEvent } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { chooseVariant, setRollout, storedRollout, type VariantWeight } from "../../../mesh/rollout.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { LogEvent, OutboxMessage } from "../../../schemas/index.ts";
import { parseMeshConfig, type MeshConfig } from "../../../schemas/config.ts";
import { conductorOptions } from "../../../agents/host/conductor-options.ts";
import { startAgentHost } from "../../../agents/host/host.ts";
import { compareReport } from "../../../agents/cli/compare.ts";
import { logSince } from "../../../agents/cli/log-since.ts";
import { startNatsServer } from "../../harness/nats-server.ts";
import { runLyra } from "../../harness/committee-fixture.ts";
import { startOllamaDouble, type OllamaChatBody } from "../../doubles/ollama.ts";
import { eventually } from "../../harness/eventually.ts";
import { askTurn, logOf, newId } from "./helpers.ts";

const yaml = (natsUrl: string, ollamaUrl: string, weights: { control: number; candidate: number; shadowy: number }) => `
mesh: { name: test, owner: tester }
nats: { servers: ["${natsUrl}"] }
roles:
  router: { kind: router, model: m-a, slots: 4 }
  pragmatist:
    model: m-a
    slots: 8
    variants:
      - { name: control, weight: ${weights.control} }
      - { name: candidate, weight: ${weights.candidate}, model: m-b }
      - { name: shadowy, weight: ${weights.shadowy}, model: m-s, shadow: true }
  voice: { kind: voice, model: m-a, slots: 4 }
hosts:
  local: { ollama_url: "${ollamaUrl}", roles: [router, pragmatist, voice] }
conductor: { pipeline: false, max_parallel: 8, ack_wait_ms: 10000 }
`;

/** The variant set as the conductor sees it (the config's), with weights. */
const set = (control: number, candidate: number): VariantWeight[] => [
  { name: "control", weight: control, shadow: false },
  { name: "candidate", weight: candidate, shadow: false },
  { name: "shadowy", weight: 100, shadow: true },
];

/** The double: the router picks the pragmatist, a specialist says which model wrote its answer, the voice passes it on. */
async function ollama() {
  return startOllamaDouble({
    models: ["m-a", "m-b", "m-s"],
    json: () => ({ specialist: "pragmatist", confidence: 0.9, reason: "practical" }),
    reply: (b: OllamaChatBody) => {
      const last = b.messages?.findLast((m) => m.role === "user")?.content ?? "";
      const voice = b.messages?.some((m) => m.role === "system" && m.content.includes("in Lyra's voice"));
      return voice || last.startsWith("[") ? `Lyra: ${last}` : `[${b.model}] answer to ${last}`;
    },
  });
}

async function committee(mesh: Mesh, config: MeshConfig, onEvent?: (e: ConductorEvent) => void) {
  const host = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  const core = await startConductor(mesh, { ...conductorOptions(config, mesh, silentLogger), roles: createRoleClient(mesh), onEvent });
  return {
    async [Symbol.asyncDispose]() {
      await core.close();
      await host.close();
    },
  };
}

const finished = (log: LogEvent[]) => log.filter((e) => e.type === "specialist_finished");

describe("rollout and A/B variants of a role", () => {
  it("a conversation keeps its variant, the log and the agent's final name it; a shadow is logged and never shown", async () => {
    await using double = await ollama();
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const config = parseMeshConfig(yaml(server.url, double.url, { control: 50, candidate: 50, shadowy: 100 }), { env: {} });
    const seen: ConductorEvent[] = [];
    await using _c = await committee(mesh, config, (e) => void seen.push(e));

    const conv = newId("c");
    const shown: string[] = [];
    const partials = mesh.nc.subscribe(subjects.outboxPartial("cli", conv), {
      callback: (_e, m) => void shown.push(decodeBody(OutboxMessage, m, "partial").text),
    });
    const replies = [await askTurn(mesh, conv, "How do I boil an egg?"), await askTurn(mesh, conv, "And a second one?")];
    const expected = chooseVariant("pragmatist", conv, set(50, 50))!;
    const model = expected === "control" ? "m-a" : "m-b";
    const log = await eventually("both turns' shadow answers logged", async () => {
      const l = await logOf(mesh, conv);
      return l.filter((e) => e.type === "shadow_answer").length === 2 && l;
    });
    partials.unsubscribe();

    // Both turns got the variant the hash gives, and the agent answered with its model.
    expect(finished(log)).toHaveLength(2);
    for (const e of finished(log)) expect(e).toMatchObject({ role: "pragmatist", variant: expected, model });
    for (const r of replies) expect(r.text).toContain(`[${model}]`);
    // The router and the voice have no variants: their events say nothing of any.
    expect(log.find((e) => e.type === "routed")).not.toHaveProperty("variant");
    // The shadow answered the same prompts, beside the primary's answer, and none of it reached the user.
    const shadows = log.filter((e) => e.type === "shadow_answer");
    for (const s of shadows) {
      expect(s).toMatchObject({ role: "pragmatist", step: "specialist", variant: "shadowy", model: "m-s", primary: { variant: expected } });
      expect(s.text).toContain("[m-s]");
      expect(s.primary!.text).toContain(`[${model}]`);
    }
    expect(shown.length).toBeGreaterThan(0);
    expect([...shown, ...replies.map((r) => r.text)].join("\n")).not.toContain("m-s");
    // The metrics' events: two calls of the conversation's variant, two shadow answers logged.
    expect(seen.filter((e) => e.type === "variant")).toEqual([
      { type: "variant", role: "pragmatist", variant: expected, ok: true },
      { type: "variant", role: "pragmatist", variant: expected, ok: true },
    ]);
    expect(seen.filter((e) => e.type === "shadow").map((e) => e.type === "shadow" && e.outcome)).toEqual(["logged", "logged"]);

    // A direct call names a variant or gets the role as configured; a variant the role lacks is refused.
    await using client = createRoleClient(mesh);
    const direct = await client.call("pragmatist", { prompt: "hi", variant: "candidate" });
    expect(direct.final).toMatchObject({ model: "m-b", variant: "candidate" });
    expect((await client.call("pragmatist", { prompt: "hi" })).final).toMatchObject({ model: "m-a" });
    await expect(client.call("pragmatist", { prompt: "hi", variant: "nope" })).rejects.toThrow(
      /has no variant 'nope'.*control, candidate, shadowy/,
    );
  }, 60_000);

  it("a shadow that fails is logged with its error; the turn it shadowed answers as if there were none", async () => {
    await using double = await ollama();
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    // The shadow's model is not on the host's Ollama: every shadow call fails.
    const text = yaml(server.url, double.url, { control: 100, candidate: 0, shadowy: 100 }).replace("model: m-s", "model: m-gone");
    await using _c = await committee(mesh, parseMeshConfig(text, { env: {} }));
    const conv = newId("f");
    const reply = await askTurn(mesh, conv, "Still fine?");
    expect(reply.error).toBeUndefined();
    expect(reply.text).toContain("[m-a] answer to Still fine?");
    const shadow = await eventually("the failed shadow logged", async () =>
      (await logOf(mesh, conv)).find((e) => e.type === "shadow_answer"),
    );
    expect(shadow).toMatchObject({
      variant: "shadowy",
      text: "",
      error: expect.stringMatching(/m-gone/) as string,
      primary: { variant: "control" },
    });
    expect((await logOf(mesh, conv)).filter((e) => e.type === "error")).toEqual([]);
  }, 60_000);

  it("weights are honoured turn by turn, and a change made while turns run applies with nothing failed", async () => {
    await using double = await ollama();
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    // The config says 90/10 and no shadow; the bucket says 50/50 before the conductor starts.
    const config = parseMeshConfig(yaml(server.url, double.url, { control: 90, candidate: 10, shadowy: 0 }), { env: {} });
    const variants = config.roles.pragmatist!.variants!;
    await setRollout(mesh, "pragmatist", variants, { control: 50, candidate: 50, shadowy: 0 });
    await using _c = await committee(mesh, config);

    const variantOf = async (conv: string) => finished(await logOf(mesh, conv))[0]?.variant;
    const turns = (n: number) => Array.from({ length: n }, () => newId("w"));
    // 1. 50/50 from the bucket: each conversation gets exactly what the hash gives for those weights.
    const first = turns(30);
    const firstReplies = await Promise.all(first.map((c) => askTurn(mesh, c, "Which way is north?")));
    const got = await Promise.all(first.map(variantOf));
    expect(got).toEqual(first.map((c) => chooseVariant("pragmatist", c, set(50, 50))));
    // 2. 100 % candidate, set while 30 more turns run.
    const during = turns(30);
    const running = Promise.all(during.map((c) => askTurn(mesh, c, "Which way is south?")));
    await setRollout(mesh, "pragmatist", variants, { control: 0, candidate: 100, shadowy: 0 });
    const duringReplies = await running;
    // 3. Once a new conversation gets the candidate, every later one does.
    await eventually("a new conversation goes to the candidate", async () => {
      const c = newId("p");
      await askTurn(mesh, c, "Is it applied?");
      return (await variantOf(c)) === "candidate";
    });
    const after = turns(10);
    const afterReplies = await Promise.all(after.map((c) => askTurn(mesh, c, "Which way is east?")));
    expect(await Promise.all(after.map(variantOf))).toEqual(after.map(() => "candidate"));
    // Nothing failed on the way: no reply with an error, no error event, every conversation's variant one of the two.
    for (const r of [...firstReplies, ...duringReplies, ...afterReplies]) expect(r.error).toBeUndefined();
    for (const c of during) {
      const log = await logOf(mesh, c);
      expect(log.filter((e) => e.type === "error")).toEqual([]);
      expect(["control", "candidate"]).toContain(finished(log)[0]?.variant);
    }
  }, 120_000);

  it("lyra rollout sets the weights from the command line, and lyra compare reports the variants and answer pairs", async () => {
    await using double = await ollama();
    await using server = await startNatsServer();
    await using mesh = await connectMesh({ servers: server.url });
    const text = yaml(server.url, double.url, { control: 90, candidate: 10, shadowy: 100 });
    const config = parseMeshConfig(text, { env: {} });
    const file = join(mkdtempSync(join(tmpdir(), "lyra-rollout-")), "mesh.yaml");
    writeFileSync(file, text);

    const set50 = runLyra(["rollout", "pragmatist", "candidate=50", "--config", file]);
    expect(await set50.exited, set50.output()).toBe(0);
    expect(set50.stdout()).toMatch(/candidate\s+answers\s+10 % → 50 %/);
    expect((await storedRollout(mesh, "pragmatist", config.roles.pragmatist!.variants!))?.weights).toEqual({
      control: 50,
      candidate: 50,
      shadowy: 100,
    });
    const refused = runLyra(["rollout", "pragmatist", "control=60", "candidate=60", "--config", file]);
    expect(await refused.exited).toBe(2);
    expect(refused.output()).toMatch(/add up to 120, not 100/);

    await using _c = await committee(mesh, config);
    const convs = Array.from({ length: 6 }, () => newId("k"));
    for (const c of convs) await askTurn(mesh, c, `Question ${c}?`);
    await eventually("every shadow answer logged", async () => {
      const logs = await Promise.all(convs.map((c) => logOf(mesh, c)));
      return logs.every((l) => l.some((e) => e.type === "shadow_answer"));
    });

    const report = compareReport("pragmatist", await logSince(mesh, new Date(Date.now() - 60_000)), { since: "1m", pairs: 2 });
    expect(report).toMatch(/^VARIANT\s+KIND\s+CALLS\s+TTFT p50\s+TOTAL p50\s+TOTAL p95\s+CHARS avg\s+ERRORS\s+FALLBACKS$/m);
    expect(report).toMatch(/^shadowy\s+shadow\s+6\s/m);
    const answering = [...report.matchAll(/^(control|candidate)\s+answers\s+(\d+)\s.*\s0\.0 %\s+0\.0 %$/gm)];
    expect(answering.reduce((n, m) => n + Number(m[2]), 0)).toBe(6);
    expect(report).toContain("prompt: Question");
    expect(report).toMatch(/shadowy \(shadow, \d+ ms\): \[m-s\] answer to Question/);

    const cli = runLyra(["compare", "pragmatist", "--nats", server.url, "--since", "10m", "--pairs", "1"]);
    expect(await cli.exited, cli.output()).toBe(0);
    expect(cli.stdout()).toMatch(/^shadowy\s+shadow\s+6\s/m);
    expect(cli.stdout()).toContain("primary and shadow (last 1)");
  }, 120_000);
});
