import { describe, expect, it } from "vitest";
import { callOutcome, MAX_TOOL_RESULT_CHARS } from "../../../agents/host/toolcontent.ts";
import { formatToolEvent } from "../../../agents/cli/commands/log.ts";
import { toolLine } from "../../../agents/cli/commands/tap.ts";

const ok = (result: Record<string, unknown>) => ({ jsonrpc: "2.0" as const, id: 1, result });

describe("MCP tool results as the model reads them", () => {
  it("joins text blocks and summarises the others", () => {
    const r = callOutcome(
      ok({
        content: [
          { type: "text", text: "first" },
          { type: "image", mimeType: "image/png", data: "AAAA" },
          { type: "resource_link", uri: "file:///a.txt", name: "a" },
          { type: "resource", resource: { uri: "mem://x", text: "embedded text" } },
          { type: "resource", resource: { uri: "mem://y", mimeType: "application/pdf", blob: "AAAA" } },
          { type: "text", text: "last" },
        ],
      }),
      "'t'",
    );
    expect(r).toMatchObject({ status: "ok", isError: false });
    expect(r.text.split("\n")).toEqual([
      "first",
      "[image: image/png, 3 bytes, not shown]",
      "[resource link: file:///a.txt (a)]",
      "embedded text",
      "[resource: mem://y, application/pdf, binary, not shown]",
      "last",
    ]);
  });

  it("isError results and JSON-RPC errors are error outcomes the model can read", () => {
    expect(callOutcome(ok({ content: [{ type: "text", text: "bad zone" }], isError: true }), "'clock__now'")).toEqual({
      status: "error",
      isError: true,
      text: "bad zone",
    });
    const e = callOutcome({ jsonrpc: "2.0", id: 1, error: { code: -32602, message: "Tool wat not found" } }, "'clock__wat'");
    expect(e).toMatchObject({ status: "error", isError: true });
    expect(e.text).toBe("tool 'clock__wat' failed: Tool wat not found (code -32602)");
  });

  it("falls back to structured content, and cuts what is too long", () => {
    expect(callOutcome(ok({ content: [], structuredContent: { a: 1 } }), "t").text).toBe('{"a":1}');
    expect(callOutcome(ok({}), "t").text).toBe("(no content)");
    const long = callOutcome(ok({ content: [{ type: "text", text: "x".repeat(MAX_TOOL_RESULT_CHARS + 10) }] }), "t").text;
    expect(long.endsWith("… [10 more characters cut]")).toBe(true);
  });
});

describe("tool events in lyra log and lyra tap", () => {
  const base = { ts: 0, conversation: "c", turn: "t" };
  it("prints a call and its result on readable lines", () => {
    expect(
      formatToolEvent({
        ...base,
        type: "tool_call",
        role: "pragmatist",
        host: "gpu-1",
        server: "clock",
        tool: "now",
        arguments: { timezone: "UTC" },
      }),
    ).toBe('tool  pragmatist@gpu-1 → clock.now {"timezone":"UTC"}');
    expect(
      formatToolEvent({
        ...base,
        type: "tool_result",
        role: "pragmatist",
        server: "clock",
        tool: "now",
        outcome: "Monday\n noon",
        is_error: false,
        latency_ms: 12.4,
      }),
    ).toBe('  ← clock.now: "Monday noon" (12 ms)');
    expect(
      formatToolEvent({
        ...base,
        type: "tool_result",
        role: "r",
        server: "clock",
        tool: "wait",
        outcome: "timed out",
        is_error: true,
        status: "timeout",
      }),
    ).toBe('  ← clock.wait: ERROR timeout: "timed out"');
    expect(
      formatToolEvent({ ...base, type: "tool_result", role: "r", server: "kb", tool: "q", outcome: "x", latency_ms: 2, cached: true }),
    ).toBe('  ← kb.q: "x" (2 ms, cached)');
  });

  it("a result the tool host answered from its cache is marked cached", () => {
    expect(callOutcome(ok({ content: [{ type: "text", text: "x" }], _meta: { "lyra/cached": true } }), "'kb__q'").cached).toBe(true);
    expect(callOutcome(ok({ content: [{ type: "text", text: "x" }] }), "'kb__q'").cached).toBeUndefined();
  });

  it("tap shows log events and reply chunks of tools the same way; other bodies are left alone", () => {
    expect(toolLine({ ...base, type: "tool_call", role: "pragmatist", server: "clock", tool: "now", arguments: {} })).toBe(
      "tool  pragmatist → clock.now {}",
    );
    expect(
      toolLine({
        type: "tool_result",
        data: { id: "c", name: "clock__now", content: "noon", server: "clock", tool: "now", latency_ms: 3 },
      }),
    ).toBe('  ← clock.now: "noon" (3 ms)');
    expect(toolLine({ type: "response", data: "hi" })).toBeUndefined();
    expect(toolLine("text")).toBeUndefined();
  });
});
