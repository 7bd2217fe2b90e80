/**
 * Failover that continues: two `lyra agent` processes (hosts a and b, each with its own Ollama
 * double whose template continues a final assistant message) serve one role. The one streaming an
 * answer is SIGKILLed mid-answer; the re-issue carries what was streamed (`resume`), the survivor
 * gives it to the model as the start of the assistant's message, and the final text is that prefix
 * and the continuation, nothing restarted or repeated.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import type { CliProcess } from "../../harness/committee-fixture.ts";
import type { OllamaChatBody, OllamaDouble } from "../../doubles/ollama.ts";
import { within, words } from "./helpers.ts";
import { startAgentProcesses, type AgentProcesses } from "./fixture.ts";

let fx: AgentProcesses;
let client: RoleClient;
let ollama: Record<string, OllamaDouble>;
let agents: Record<string, CliProcess>;

const ANSWER = words(25);
/** Differs from the rest of ANSWER: a survivor that re-ran the answer instead would show ANSWER's words again. */
const CONTINUATION = " and then, continued elsewhere, the end.";
// A template written with `$last` (as Ollama's library templates are) continues a last assistant message.
const TEMPLATE = "{{- range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}{{ .Content }}{{ end }}";

const reply = (b: OllamaChatBody) => (b.messages?.at(-1)?.role === "assistant" ? CONTINUATION : ANSWER);

beforeAll(async () => {
  const double = { models: ["qwen3:8b"], tokenDelayMs: 100, reply, template: TEMPLATE };
  fx = await startAgentProcesses({ roles: { voice: {} }, hosts: { a: { ollama: double }, b: { ollama: double } } });
  ({ client, ollama, agents } = fx);
});

afterAll(() => fx?.[Symbol.asyncDispose]());

const chatsOn = (h: string) => ollama[h]!.chats();

describe("agent processes: the one streaming is killed mid-answer", () => {
  it("the survivor continues the streamed text; the reply is prefix + continuation, nothing repeated", async () => {
    const stream = client.stream("voice", "a long answer please", { keepAliveGapMs: 3000 });
    const seen: string[] = [];
    let killed: string | undefined;
    const run = async () => {
      for await (const c of stream) {
        if (c.type === "response") seen.push(typeof c.data === "string" ? c.data : c.data.text);
        if (!killed && seen.length === 3) {
          const busy = ["a", "b"].filter((h) => chatsOn(h).length > 0);
          expect(busy).toHaveLength(1);
          killed = busy[0]!;
          agents[killed]!.proc.kill("SIGKILL");
        }
      }
    };
    await within(run(), 30_000, "the streamed call");
    const result = await stream.result;
    const survivor = killed === "a" ? "b" : "a";

    // The survivor was asked to continue exactly what had been streamed.
    const asked = chatsOn(survivor);
    expect(asked).toHaveLength(1);
    const prefix = asked[0]!.messages!.at(-1)!;
    expect(prefix.role).toBe("assistant");
    expect(prefix.content.length).toBeGreaterThan(0);
    expect(ANSWER.startsWith(prefix.content)).toBe(true);
    expect(prefix.content.length).toBeLessThan(ANSWER.length);

    expect(result.text).toBe(prefix.content + CONTINUATION);
    expect(seen.join("")).toBe(result.text); // what the consumer saw: no restart, no repeat
    expect(result).toMatchObject({ attempts: 2, host: survivor });
    expect(result.final.resumed_at).toBe(prefix.content.length);
    expect(result.resumed).toEqual([{ at: prefix.content.length, from: killed, to: survivor }]);
  });
});
