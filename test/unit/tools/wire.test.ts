import { describe, expect, it } from "vitest";
import { MCP_UNSET, mcpNameToken, parseMcpSubject, subjects } from "../../../mesh/subjects.ts";
import { checkInbound } from "../../../tools/integrity.ts";
import { decodeHeaderValue, encodeHeaderValue, grantAllows, McpCode, splitToolName, qualifiedToolName } from "../../../tools/wire.ts";

const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
const headersOf = (h: Record<string, string>) => ({ get: (k: string) => ({ "Mcp-Wire": "1", ...h })[k] ?? "" });
const body = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const call = (name: string, extra: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id: 7,
  method: "tools/call",
  params: { name, arguments: {}, _meta: META, ...extra },
});
const deep = (n: number): unknown => (n <= 1 ? [] : [deep(n - 1)]);
const goodHeaders = (name: string) =>
  headersOf({ "Mcp-Method": "tools/call", "Mcp-Name": encodeHeaderValue(name), "MCP-Protocol-Version": "2026-07-28" });

describe("MCP subjects (gateway wire v1 grammar)", () => {
  it("builds and parses request subjects", () => {
    const s = subjects.mcpRequest("lyra", "pragmatist", "clock", "tools/call", "now");
    expect(s).toBe("mcp.v1.req.lyra.pragmatist.clock.tools.call.now");
    expect(parseMcpSubject(s)).toEqual({ tenant: "lyra", user: "pragmatist", server: "clock", method: "tools/call", name: "now" });
    expect(subjects.mcpRequest("lyra", "_", "clock", "tools/list")).toBe("mcp.v1.req.lyra._.clock.tools.list._");
    expect(subjects.mcpRequest("lyra", "_", "fs", "resources/templates/list")).toBe("mcp.v1.req.lyra._.fs.resources.templates.list._");
  });
  it("maps names that are not token-safe, and a literal '_', to '_'", () => {
    expect(mcpNameToken("get.issue")).toBe(MCP_UNSET);
    expect(mcpNameToken("héllo")).toBe(MCP_UNSET);
    expect(mcpNameToken("_")).toBe(MCP_UNSET);
    expect(mcpNameToken("get_issue")).toBe("get_issue");
  });
  it("refuses wildcards and bad tokens, and parses nothing that is not a request", () => {
    expect(() => subjects.mcpRequest("lyra", "*", "clock", "tools/list")).toThrow(/not a valid subject token/);
    expect(() => subjects.mcpRequest("lyra", "_", "clock", "tools/>")).toThrow(/not a subject token/);
    expect(parseMcpSubject("mcp.v1.req.lyra._.clock._")).toBeUndefined();
    expect(parseMcpSubject("lyra.voice")).toBeUndefined();
  });
  it("round-trips header values that are not plain ASCII", () => {
    for (const v of ["now", "天气", "line\nbreak", "=?base64?abc?="]) expect(decodeHeaderValue(encodeHeaderValue(v))).toBe(v);
    expect(encodeHeaderValue("now")).toBe("now");
  });
  it("qualifies tool names collision-free and checks grants", () => {
    expect(splitToolName(qualifiedToolName("web-search", "fetch_page"))).toEqual({ server: "web-search", tool: "fetch_page" });
    expect(splitToolName("nounderscores")).toBeUndefined();
    expect(grantAllows(["clock.*"], "clock", "now")).toBe(true);
    expect(grantAllows(["clock.now"], "clock", "wait")).toBe(false);
    expect(grantAllows(["clock.now"], "web", "now")).toBe(false);
  });
});

describe("integrity check: subject = headers = body", () => {
  const subj = (name: string) => parseMcpSubject(subjects.mcpRequest("lyra", "_", "clock", "tools/call", name))!;
  it("accepts a request whose three views agree", () => {
    const r = checkInbound(subj("now"), goodHeaders("now"), body(call("now")));
    expect(r.ok).toBe(true);
  });
  it("accepts params nested up to the depth limit", () => {
    expect(checkInbound(subj("now"), goodHeaders("now"), body(call("now", { arguments: { x: deep(60) } }))).ok).toBe(true);
  });
  it("says which wire versions it speaks and how deep params may nest", () => {
    const w = checkInbound(subj("now"), headersOf({ "Mcp-Wire": "2" }), body(call("now")));
    expect(w.ok || w.message).toMatch(/wire version '2'.*speaks Mcp-Wire: 1/);
    const deepBody = JSON.stringify(call("now")).replace('"arguments":{}', `"arguments":{"x":${"[".repeat(5000)}${"]".repeat(5000)}}`);
    const d = checkInbound(subj("now"), goodHeaders("now"), new TextEncoder().encode(deepBody));
    expect(d.ok || d.message).toMatch(/nested deeper than 64 levels/);
  });
  it("accepts an unsafe name on the '_' subject", () => {
    expect(checkInbound(subj("x.y"), goodHeaders("x.y"), body(call("x.y"))).ok).toBe(true);
  });
  const cases: [string, () => ReturnType<typeof checkInbound>, number][] = [
    [
      "body names another tool than the subject",
      () => checkInbound(subj("now"), goodHeaders("wait"), body(call("wait"))),
      McpCode.HeaderMismatch,
    ],
    ["Mcp-Name disagrees with the body", () => checkInbound(subj("now"), goodHeaders("wait"), body(call("now"))), McpCode.HeaderMismatch],
    ["a token-safe name hides under '_'", () => checkInbound(subj("x.y"), goodHeaders("now"), body(call("now"))), McpCode.HeaderMismatch],
    [
      "Mcp-Method disagrees",
      () =>
        checkInbound(
          subj("now"),
          headersOf({ "Mcp-Method": "tools/list", "Mcp-Name": "now", "MCP-Protocol-Version": "2026-07-28" }),
          body(call("now")),
        ),
      McpCode.HeaderMismatch,
    ],
    [
      "protocol version header missing",
      () => checkInbound(subj("now"), headersOf({ "Mcp-Method": "tools/call", "Mcp-Name": "now" }), body(call("now"))),
      McpCode.HeaderMismatch,
    ],
    [
      "an old protocol version",
      () =>
        checkInbound(
          subj("now"),
          headersOf({ "Mcp-Method": "tools/call", "Mcp-Name": "now", "MCP-Protocol-Version": "2025-11-25" }),
          body(call("now", { _meta: { "io.modelcontextprotocol/protocolVersion": "2025-11-25" } })),
        ),
      -32022,
    ],
    ["not JSON", () => checkInbound(subj("now"), goodHeaders("now"), new TextEncoder().encode("hello")), McpCode.ParseError],
    [
      "a notification",
      () => checkInbound(subj("now"), goodHeaders("now"), body({ jsonrpc: "2.0", method: "tools/call", params: { name: "now" } })),
      McpCode.InvalidRequest,
    ],
    ["a batch", () => checkInbound(subj("now"), goodHeaders("now"), body([call("now")])), McpCode.InvalidRequest],
    [
      "Mcp-Wire 2",
      () =>
        checkInbound(
          subj("now"),
          headersOf({ "Mcp-Wire": "2", "Mcp-Method": "tools/call", "Mcp-Name": "now", "MCP-Protocol-Version": "2026-07-28" }),
          body(call("now")),
        ),
      McpCode.InvalidRequest,
    ],
    [
      "no Mcp-Wire header",
      () =>
        checkInbound(
          subj("now"),
          headersOf({ "Mcp-Wire": "", "Mcp-Method": "tools/call", "Mcp-Name": "now", "MCP-Protocol-Version": "2026-07-28" }),
          body(call("now")),
        ),
      McpCode.InvalidRequest,
    ],
    [
      "params nested past the depth limit",
      () => checkInbound(subj("now"), goodHeaders("now"), body(call("now", { arguments: { x: deep(65) } }))),
      McpCode.InvalidParams,
    ],
    [
      "tools/call without a name",
      () => checkInbound(subj("now"), goodHeaders("now"), body({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { _meta: META } })),
      McpCode.InvalidParams,
    ],
  ];
  for (const [what, run, code] of cases) {
    it(`refuses: ${what}`, () => {
      const r = run();
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe(code);
    });
  }
});
