/**
 * The scripted backend: deterministic answers from rules, for the development mesh, the demo and
 * tests. It is labelled, never silent: every final says backend "scripted" and model
 * "scripted:<model>". A message no rule covers is an error, not a made-up answer.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { z } from "zod";
import { ScriptRule, type ChatMessage } from "../../schemas/index.ts";
import { AbortedError, FirstTokenTimeoutError, ScriptError } from "../errors.ts";
import { since } from "./abort.ts";
import { DEFAULT_FIRST_TOKEN_TIMEOUT_MS, type ChatOptions, type ModelBackend, type ModelChunk, type ModelRequest } from "./types.ts";

/**
 * A rule as tests and configs give it. `optional: true` (tests only, never in a config) says the
 * rule may legitimately go unmatched, so assertAllUsed() does not count it.
 */
export type ScriptRuleInput = z.input<typeof ScriptRule> & { optional?: boolean };

/** Requests remembered for assertions. */
export const REQUESTS_KEPT = 100;

export interface ScriptedBackend extends ModelBackend {
  /** The last REQUESTS_KEPT requests it was given, in order (for assertions; bounded, so a long run does not grow). */
  readonly requests: readonly ModelRequest[];
  /** Throws ScriptError naming every non-optional rule that never matched a request (a script that did not run as written). */
  assertAllUsed(): void;
}

/** Builds the backend from rules (config roles.<name>.script). Throws ScriptError on a bad rule. */
export function createScriptedBackend(script: readonly ScriptRuleInput[]): ScriptedBackend {
  const rules = compileRules(script);
  const requests: ModelRequest[] = [];
  const warmed = new Set<string>();

  async function* chat(req: ModelRequest, opts: ChatOptions = {}): AsyncGenerator<ModelChunk> {
    requests.push(req);
    if (requests.length > REQUESTS_KEPT) requests.shift();
    const started = performance.now();
    const input = req.messages.findLast((m) => m.role === "user")?.content ?? "";
    const rule = rules.find((r) => r.re?.test(input) ?? true);
    if (!rule) {
      throw new ScriptError(
        `scripted backend: no rule matches ${JSON.stringify(input.slice(0, 120))} for model '${req.model}', ` +
          `and the script has no default rule; add a rule without 'match'`,
      );
    }
    rule.used = true;
    // The tool results of this turn: the `tool` messages after the last user message.
    const sinceUser = req.messages.slice(req.messages.findLastIndex((m) => m.role === "user") + 1);
    const toolResults = sinceUser.filter((m) => m.role === "tool");
    const toolResult = toolResults.map((m) => m.content).join("\n");
    const final = (completion: number, done_reason: string, firstTokenMs?: number): ModelChunk => ({
      type: "final",
      model: `scripted:${req.model}`,
      backend: "scripted",
      usage: { prompt_tokens: countWords(req.messages), completion_tokens: completion },
      timings: { total_ms: since(started), ...(firstTokenMs !== undefined ? { first_token_ms: firstTokenMs } : {}) },
      done_reason,
    });
    const wait = async (ms: number, first: boolean) => {
      if (ms === 0) return; // an instant script must not pay a timer per word
      const limit = opts.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
      try {
        await delay(first ? Math.min(ms, limit) : ms, undefined, { signal: opts.signal });
      } catch (err) {
        throw new AbortedError(`scripted chat with '${req.model}'`, { cause: err });
      }
      if (first && ms > limit) throw new FirstTokenTimeoutError(req.model, limit, { backend: "scripted", where: "the scripted backend" });
    };

    // A tool-calling rule calls first (one round); once a result is back in this turn it replies.
    if (rule.tool_call && toolResults.length === 0) {
      const granted = (req.tools ?? []).map((t) => t.name);
      if (!granted.includes(rule.tool_call.name)) {
        throw new ScriptError(
          `scripted backend: the rule calls tool '${rule.tool_call.name}', but the request grants only [${granted.join(", ")}]; ` +
            `grant the tool to the role or change the script`,
        );
      }
      await wait(rule.delay_ms ?? 0, true);
      yield { type: "tool_call", call: { id: "call_0", name: rule.tool_call.name, arguments: rule.tool_call.arguments } };
      yield final(1, "tool_calls", since(started));
      return;
    }
    let text: string;
    if (req.format !== undefined) {
      if (!rule.json)
        throw new ScriptError(
          `scripted backend: the request asks for structured output, ` +
            `but the rule matching ${JSON.stringify(input.slice(0, 80))} has no 'json'; add json to that rule`,
        );
      text = JSON.stringify(rule.json);
    } else if (rule.reply !== undefined) {
      text = rule.reply.replaceAll("{input}", input).replaceAll("{tool_result}", toolResult).replaceAll("{model}", req.model);
    } else if (rule.json) {
      text = JSON.stringify(rule.json);
    } else {
      text = toolResult;
    }
    // A resumed answer (a final assistant message) continues: what follows that text in the reply.
    const prefix = req.messages.at(-1)?.role === "assistant" ? req.messages.at(-1)!.content : "";
    if (prefix && text.startsWith(prefix)) text = text.slice(prefix.length);
    const words = text.match(/\s*\S+\s*/g) ?? [];
    let firstTokenMs: number | undefined;
    for (const word of words) {
      if (opts.signal?.aborted) throw new AbortedError(`scripted chat with '${req.model}'`, { cause: opts.signal.reason });
      await wait(rule.delay_ms ?? 0, firstTokenMs === undefined);
      firstTokenMs ??= since(started);
      yield { type: "delta", text: word };
    }
    yield final(words.length, "stop", firstTokenMs);
  }

  return {
    name: "scripted",
    requests,
    chat,
    health: async () => ({ ok: true, models: [...warmed], loaded: [...warmed] }),
    canContinue: async () => true,
    warm: async (model: string) => {
      warmed.add(model);
    },
    assertAllUsed: () => assertRulesUsed(rules),
  };
}

type CompiledRule = ScriptRule & { re: RegExp | undefined; optional: boolean; used: boolean };

/** Parses each rule (ScriptError naming the bad one) and compiles its match. */
function compileRules(script: readonly ScriptRuleInput[]): CompiledRule[] {
  return script.map(({ optional, ...r }, i) => {
    const parsed = ScriptRule.safeParse(r);
    if (!parsed.success)
      throw new ScriptError(
        `script rule ${i} is invalid: ${parsed.error.issues.map((x) => `${x.path.join(".") || "rule"} ${x.message}`).join("; ")}`,
      );
    return {
      ...parsed.data,
      re: parsed.data.match !== undefined ? new RegExp(parsed.data.match, "i") : undefined,
      optional: optional ?? false,
      used: false,
    };
  });
}

function assertRulesUsed(rules: readonly CompiledRule[]): void {
  const unused = rules.flatMap((r, i) =>
    r.used || r.optional ? [] : [`rule ${i} (${r.match !== undefined ? `match ${JSON.stringify(r.match)}` : "the default"})`],
  );
  if (unused.length)
    throw new ScriptError(
      `scripted backend: ${unused.join(", ")} never matched a request; ` +
        `remove the rule, fix its match, or mark it optional: true if it matches only sometimes`,
    );
}

function countWords(messages: ChatMessage[]): number {
  return messages.reduce((n, m) => n + (m.content.match(/\S+/g)?.length ?? 0), 0);
}
