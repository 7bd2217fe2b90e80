/** `lyra tools ls` and `lyra tools call` against a clock tool server on a real nats-server. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { clockServer, sdkHandler, serveMcp, type ToolServer } from "../../../tools/index.ts";
import { memoryServer, openMemoryStore } from "../../../tools/builtin/memory/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { runLyra } from "../../harness/committee-fixture.ts";
import { eventually } from "../../harness/eventually.ts";

let nats: NatsServer;
let mesh: Mesh;
let clock: ToolServer;
let memory: ToolServer;
const store = openMemoryStore(":memory:");

beforeAll(async () => {
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
  // Tenant 'lyra': the mesh name of config/mesh.dev.yaml, which the commands load by default.
  clock = await serveMcp(mesh, { server: "clock", tenant: "lyra", host: "h1", handler: sdkHandler(() => clockServer()), keepAliveMs: 300 });
  const embedder = { embed: async () => ({ reason: "no embedding model in this test" }) };
  memory = await serveMcp(mesh, {
    server: "memory",
    tenant: "lyra",
    host: "h1",
    handler: sdkHandler(() => memoryServer({ store, embedder })),
  });
});
afterAll(async () => {
  await memory?.close();
  store.close();
  await clock?.close();
  await mesh?.close();
  await nats?.close();
});

const lyra = (args: string[]) => runLyra([...args, "--nats", nats.url], { LYRA_LOG_LEVEL: "warn" });

describe("lyra tools ls", () => {
  it("lists every tool server with its tools", async () => {
    const p = lyra(["tools", "ls"]);
    expect(await p.exited, p.output()).toBe(0);
    expect(p.stdout()).toMatch(/^clock @ h1 {2}\(2 tools\)$/m);
    expect(p.stdout()).toMatch(/^ {2}now {3}The current date and time\./m);
    expect(p.stdout()).toMatch(/^ {2}wait {2}Waits the given number of seconds/m);
    const json = lyra(["tools", "ls", "--json"]);
    expect(await json.exited).toBe(0);
    const found = JSON.parse(json.stdout()) as { server: string; hosts: string[]; tools: { name: string }[] }[];
    // Servers the dev config names but nobody serves here are listed too, as not answering.
    expect(found.find((f) => f.server === "clock")).toMatchObject({ hosts: ["h1"], tools: [{ name: "now" }, { name: "wait" }] });
  });

  it("exits 1 with a hint when no tool server answers", async () => {
    await using empty = await startNatsServer({ jetstream: false });
    const p = runLyra(["tools", "ls", "--nats", empty.url, "--timeout", "300"], { LYRA_LOG_LEVEL: "warn" });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/no tool server answers on the mesh 'lyra': start one with 'lyra tools'/);
  });
});

describe("lyra tools call", () => {
  it("prints progress as msg frames, keep-alives, and the result; exit 0", async () => {
    const p = lyra(["tools", "call", "clock", "wait", "--args", '{"seconds":2}']);
    expect(await p.exited, p.output()).toBe(0);
    const lines = p.stdout().trim().split("\n");
    const msgs = lines.filter((l) => l.startsWith("msg "));
    expect(msgs).toHaveLength(2);
    expect(JSON.parse(msgs[0]!.slice(5))).toMatchObject({ method: "notifications/progress", params: { progress: 1, total: 2 } });
    expect(lines.some((l) => /^ka {3}#\d+$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^end {2}\{.*"waited 2 s"/);
  });

  it("takes SERVER__TOOL too; an error result and a JSON-RPC error exit 1 with the code", async () => {
    const ok = lyra(["tools", "call", "clock__now", "--args", '{"timezone":"UTC"}']);
    const bad = lyra(["tools", "call", "clock", "now", "--args", '{"timezone":"Mars/Olympus"}']);
    const unknown = lyra(["tools", "call", "clock", "nope"]);
    const ghost = lyra(["tools", "call", "ghost", "now"]);
    expect(await ok.exited, ok.output()).toBe(0);
    expect(ok.stdout()).toMatch(/\(UTC\)/);
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/returned an error result \(isError\)/);
    expect(await unknown.exited).toBe(1);
    expect(unknown.output()).toMatch(/error -32602: .*nope/);
    expect(await ghost.exited).toBe(1);
    expect(ghost.output()).toMatch(/error -32011: no tool server 'ghost'/);
  });

  it("usage errors exit 2: bad JSON, not an object, no tool, a server name that is no subject token", async () => {
    const runs = [["clock", "now", "--args", "{nope"], ["clock", "now", "--args", "[1,2]"], ["clock"], [], ["a.b", "now"]].map((args) => ({
      args,
      p: lyra(["tools", "call", ...args]),
    }));
    for (const { args, p } of runs) {
      expect(await p.exited, args.join(" ")).toBe(2);
      expect(p.output()).toMatch(/--args .* (is not JSON|must be a JSON object)|name a server and a tool|is not a subject token/);
    }
  });

  it("--user names the caller in the subject; --timeout ends (and cancels) a call that runs too long", async () => {
    const seen: string[] = [];
    const tap = mesh.nc.subscribe("mcp.v1.req.lyra.pragmatist.>", { callback: (_e, m) => void seen.push(m.subject) });
    await mesh.nc.flush();
    const p = lyra(["tools", "call", "clock", "wait", "--args", '{"seconds":30}', "--user", "pragmatist", "--timeout", "1500"]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/error -32001: .*timed out after 1500 ms/);
    tap.unsubscribe();
    expect(seen).toEqual(["mcp.v1.req.lyra.pragmatist.clock.tools.call.wait"]);
    await eventually("the clock server's call to end", () => clock.inFlight() === 0, { timeoutMs: 5000 });
    expect(clock.inFlight()).toBe(0);
  });

  it("Ctrl-C cancels the call through {reply}.ctl; exit 130", async () => {
    const p = lyra(["tools", "call", "clock", "wait", "--args", '{"seconds":60}']);
    await p.waitFor(/^msg /m);
    expect(clock.inFlight()).toBe(1);
    p.proc.kill("SIGINT");
    expect(await p.exited).toBe(130);
    expect(p.output()).toMatch(/cancelled/);
    await eventually("the clock server's call to end", () => clock.inFlight() === 0, { timeoutMs: 5000 });
    expect(clock.inFlight()).toBe(0);
  });

  it("every tools command and mcp has --help", async () => {
    const runs = [["tools", "ls"], ["tools", "call"], ["mcp"]].map((cmd) => ({ cmd, p: runLyra([...cmd, "--help"]) }));
    for (const { cmd, p } of runs) {
      expect(await p.exited).toBe(0);
      expect(p.output()).toContain(`Usage: lyra ${cmd.join(" ")}`);
    }
  });
});

describe("lyra tools call --for", () => {
  it("puts the end user (and conversation) in _meta, as an agent does; memory refuses a call for nobody", async () => {
    const write = lyra([
      "tools",
      "call",
      "memory",
      "commit_journal",
      "--for",
      "dana",
      "--conversation",
      "c9",
      "--args",
      '{"text":"Dana keeps bees"}',
    ]);
    expect(await write.exited, write.output()).toBe(0);
    const read = lyra(["tools", "call", "memory", "semantic_search", "--for", "dana", "--args", '{"query":"bees"}']);
    expect(await read.exited, read.output()).toBe(0);
    expect(read.stdout()).toMatch(/conversation c9\): Dana keeps bees/);
    const other = lyra(["tools", "call", "memory", "semantic_search", "--for", "erin", "--args", '{"query":"bees"}']);
    expect(await other.exited).toBe(0);
    expect(other.stdout()).not.toContain("Dana keeps bees");
    const nobody = lyra(["tools", "call", "memory", "recall"]);
    expect(await nobody.exited).toBe(1);
    expect(nobody.stdout()).toContain("no 'lyra/user'");
  });

  it("--no-cache asks the tool host to skip its result cache (lyra/noCache in _meta)", async () => {
    const seen: Record<string, unknown>[] = [];
    const tap = mesh.nc.subscribe("mcp.v1.req.lyra.*.clock.tools.call.now", {
      callback: (_e, m) => void seen.push(m.json<{ params: { _meta: Record<string, unknown> } }>().params._meta),
    });
    try {
      await mesh.nc.flush();
      const p = lyra(["tools", "call", "clock", "now", "--no-cache"]);
      expect(await p.exited, p.output()).toBe(0);
      const plain = lyra(["tools", "call", "clock", "now"]);
      expect(await plain.exited, plain.output()).toBe(0);
      await eventually("both requests seen", () => seen.length === 2);
      expect(seen.map((m) => m["lyra/noCache"])).toEqual([true, undefined]);
    } finally {
      tap.unsubscribe();
    }
  });
});
