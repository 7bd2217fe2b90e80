/**
 * The Ollama backend's load parameters and errors on the real server: warm-up loads with the
 * role's num_ctx so the first chat does not reload, a model not pulled, a prompt over num_ctx,
 * and the server killed mid-stream (a typed error the fallback wrapper counts against Ollama).
 */
import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createBreaker, withFallback } from "../../agents/backends/fallback.ts";
import { createOllamaBackend } from "../../agents/backends/ollama.ts";
import { createScriptedBackend } from "../../agents/backends/scripted.ts";
import { BackendUnavailableError, ContextOverflowError, ModelNotFoundError } from "../../agents/errors.ts";
import { CHAT_MODEL, startOllama, type RealOllama, PATIENT } from "../harness/real.ts";
import { collect, rejection } from "../integration/backends/collect.ts";

const TEST_MS = 600_000;
let ollama: RealOllama | undefined;
afterEach(async () => {
  await ollama?.close();
  ollama = undefined;
});
/** The model runner processes of this server (a reload starts a new one; the log is too long to count in). */
const runners = (o: RealOllama) =>
  childPids(o.process.pid!).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--model"));
const loadedCtx = async (o: RealOllama) =>
  ((await (await fetch(`${o.url}/api/ps`)).json()) as { models: { context_length?: number }[] }).models[0]?.context_length;

describe("the Ollama backend's load parameters and errors on the real server", () => {
  it(
    "warm loads with the role's num_ctx: the first chat does not reload the model",
    async () => {
      ollama = await startOllama();
      const backend = createOllamaBackend({ host: ollama.url });
      const t0 = performance.now();
      await backend.warm(CHAT_MODEL, { numCtx: 2048 });
      console.log(`cold load of ${CHAT_MODEL} (warm): ${Math.round(performance.now() - t0)} ms`);
      const before = runners(ollama);
      expect(before.length).toBe(1);
      const out = await collect(
        backend.chat(
          { model: CHAT_MODEL, messages: [{ role: "user", content: "Hi" }], options: { num_ctx: 2048, max_tokens: 8 } },
          PATIENT,
        ),
      );
      console.log(`first chat after warm: load_ms ${out.final?.timings.load_ms ?? 0}`);
      expect(runners(ollama)).toEqual(before);
      expect(await loadedCtx(ollama)).toBe(2048);
      // A larger num_ctx reloads it: why it is fixed per role.
      await collect(
        backend.chat(
          { model: CHAT_MODEL, messages: [{ role: "user", content: "Hi" }], options: { num_ctx: 4096, max_tokens: 8 } },
          PATIENT,
        ),
      );
      const after = runners(ollama);
      expect(
        after.some((pid) => !before.includes(pid)),
        "a new runner loaded the model",
      ).toBe(true);
      expect(await loadedCtx(ollama)).toBe(4096);
    },
    TEST_MS,
  );

  it("a model not pulled is a ModelNotFoundError saying how to pull it", async () => {
    ollama = await startOllama();
    const backend = createOllamaBackend({ host: ollama.url });
    const err = await rejection(collect(backend.chat({ model: "no-such-model:1b", messages: [{ role: "user", content: "Hi" }] })));
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect(err.message).toContain("ollama pull no-such-model:1b");
    expect(err.message).toContain("npm run setup");
  });

  it(
    "a prompt longer than num_ctx is a ContextOverflowError (with truncate:false), not a silent truncation",
    async () => {
      ollama = await startOllama();
      const backend = createOllamaBackend({ host: ollama.url });
      const long = Array.from({ length: 800 }, (_, i) => `word${i}`).join(" ");
      const err = await rejection(
        collect(
          backend.chat(
            { model: CHAT_MODEL, messages: [{ role: "user", content: long }], options: { num_ctx: 256, max_tokens: 8 } },
            PATIENT,
          ),
        ),
      );
      expect(err).toBeInstanceOf(ContextOverflowError);
      expect(err.message).toContain("exceeds the context length");
    },
    TEST_MS,
  );

  it(
    "Ollama killed mid-stream: a typed BackendUnavailableError, counted as a failure of the primary",
    async () => {
      ollama = await startOllama();
      const server = ollama;
      const primary = createOllamaBackend({ host: server.url });
      const fb = withFallback(primary, createScriptedBackend([{ reply: "fallback" }]), {
        fallbackModel: "x",
        breaker: createBreaker({ failureThreshold: 1 }),
      });
      const seen: string[] = [];
      const err = await rejection(
        (async () => {
          for await (const c of fb.chat(
            { model: CHAT_MODEL, messages: [{ role: "user", content: "Tell a long story." }], options: { max_tokens: 200 } },
            PATIENT,
          )) {
            seen.push(c.type);
            if (seen.length === 1) {
              const runners = childPids(server.process.pid!);
              server.process.kill("SIGKILL");
              for (const pid of runners) process.kill(pid, "SIGKILL");
            }
          }
        })(),
      );
      expect(seen[0]).toBe("delta");
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect(err.message).toContain("not reachable");
      // Once a chunk was sent there is no switch, but the breaker counts the failure (threshold 1 here).
      expect(fb.breaker.state()).toBe("open");
    },
    TEST_MS,
  );
});

/** The runner processes `ollama serve` started (they would outlive a SIGKILLed parent). */
function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}
