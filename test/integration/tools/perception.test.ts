/**
 * perception, end to end on a real nats-server: a user message with an image reaches the vision
 * role with the image (the Ollama double checks the exact bytes), a 10 MB image goes by LYRA_MEDIA
 * reference and no NATS message carries it, the router is told and a non-vision choice is moved to
 * the vision role, and `describe_image` (real MCP over NATS) lets a specialist that cannot see ask
 * the vision role; bad inputs are each a clear error.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/client";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { putMedia } from "../../../mesh/media.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import { startConductor, type Conductor } from "../../../mesh/conductor/index.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import type { RoleClient } from "../../../mesh/rolecall/types.ts";
import { parseMeshConfig } from "../../../schemas/config.ts";
import type { Media, OutboxMessage } from "../../../schemas/index.ts";
import { startAgentHost, type AgentHost } from "../../../agents/host/host.ts";
import { committeeFromConfig } from "../../../agents/host/conductor-options.ts";
import { createMcpClient } from "../../../tools/client.ts";
import { startToolHost, type ToolHost } from "../../../tools/host.ts";
import { connectSdkClient } from "../../../tools/sdk.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { startOllamaDouble, toolResultsOf, type OllamaChatBody, type OllamaDouble, isVoiceChat } from "../../doubles/ollama.ts";
import { logOf, newId } from "../conductor/helpers.ts";

const png = (size: number) => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(size - 8)]);
const lastUser = (b: OllamaChatBody) => b.messages?.findLast((m) => m.role === "user");
const isVoice = isVoiceChat;
const visionChats = (o: OllamaDouble) => o.chats().filter((b) => b.model === "llava:13b");

let nats: NatsServer;
let mesh: Mesh;
let ollama: OllamaDouble;
let tools: ToolHost;
let agent: AgentHost;
let core: Conductor;
let roles: RoleClient;
let mcp: Client;
let largest = { size: 0, subject: "" };

beforeAll(async () => {
  ollama = await startOllamaDouble({
    models: ["qwen3:4b", "llava:13b"],
    // The router never picks the vision role: the conductor's rule must.
    json: () => ({ specialist: "pragmatist", confidence: 0.7, reason: "the double always says pragmatist" }),
    reply: (b) => {
      if (b.format !== undefined) return "";
      const u = lastUser(b);
      if (b.model === "llava:13b") {
        const sizes = (u?.images ?? []).map((i) => Buffer.from(i, "base64").length);
        return `I see ${sizes.length} image(s) of ${sizes.join(", ")} bytes; asked: ${u?.content.split("\n")[0]}`;
      }
      if (isVoice(b)) return `Lyra: ${u?.content}`;
      const results = toolResultsOf(b);
      if (results.length) return `Pragmatist relays: ${results.map((r) => r.content).join(" | ")}`;
      const ref = /reference (image\/[0-9a-f]{64})/.exec(u?.content ?? "")?.[1];
      if (ref && b.tools?.length)
        return { tool_calls: [{ function: { name: "perception__describe_image", arguments: { image: ref, question: "What is it?" } } }] };
      return `Pragmatist saw no image in: ${u?.content}`;
    },
  });
  nats = await startNatsServer();
  mesh = await connectMesh({ servers: nats.url });
  const config = parseMeshConfig(
    `
mesh: { name: test, owner: tester }
nats: { servers: ["${nats.url}"] }
tools:
  servers:
    perception: { builtin: perception, options: { timeout_ms: 20000 } }
    blind: { builtin: perception, options: { role: nobody } }
roles:
  router: { kind: router, model: "qwen3:4b", slots: 4 }
  pragmatist: { model: "qwen3:4b", slots: 4, description: practical answers, tools: [perception.describe_image] }
  perception: { model: "llava:13b", slots: 4, vision: true, description: looks at images }
  voice: { kind: voice, model: "qwen3:4b", slots: 4 }
router: { default_specialist: pragmatist }
hosts:
  local: { ollama_url: ${ollama.url}, roles: [router, pragmatist, perception, voice] }
conductor: { ack_wait_ms: 5000 }
`,
    { source: "perception test", env: {} },
  );
  tools = await startToolHost(mesh, { tenant: "test", host: "tools-1", servers: config.tools.servers, log: silentLogger });
  agent = await startAgentHost({ config, host: "local", mesh, log: silentLogger, metricsPort: null, heartbeatIntervalS: 0 });
  core = await startConductor(mesh, { roles: createRoleClient(mesh), committee: committeeFromConfig(config) });
  roles = createRoleClient(mesh);
  mcp = await connectSdkClient(createMcpClient(mesh, { tenant: "test", user: "pragmatist" }), "perception");
  const sub = mesh.nc.subscribe(">");
  void (async () => {
    for await (const m of sub) if (m.data.length > largest.size) largest = { size: m.data.length, subject: m.subject };
  })();
});
afterAll(async () => {
  await mcp?.close();
  await roles?.close();
  await core?.close();
  await agent?.close();
  await tools?.close();
  await mesh?.close();
  await nats?.close();
  await ollama?.close();
});

async function ask(conversation: string, text: string, media: Media[]): Promise<OutboxMessage> {
  const id = newId();
  const watch = watchReplies(mesh, "cli", conversation, id);
  await mesh.nc.flush();
  await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: "tester" }, text, media });
  for await (const o of watch) if (o.final) return o;
  throw new Error(`no final reply for ${id}`);
}

describe("images with a user message", () => {
  it("a small inline image reaches the vision role with its exact bytes; the router is told, its non-vision choice moved", async () => {
    const bytes = png(1000);
    const m = await putMedia(mesh, bytes);
    expect(m.data).toBeDefined(); // small: inline
    const before = visionChats(ollama).length;
    const reply = await ask("see1", "what is in this picture?", [m]);
    expect(reply.specialist).toBe("perception");
    expect(reply.text).toContain("I see 1 image(s) of 1000 bytes; asked: what is in this picture?");
    const chat = visionChats(ollama).slice(before).at(-1)!;
    expect(lastUser(chat)!.images).toEqual([bytes.toString("base64")]);

    const router = ollama.chats().findLast((b) => b.format !== undefined)!;
    expect(lastUser(router)!.content).toBe("what is in this picture?\n\n[The user attached 1 image to this message.]");
    expect(router.messages![0]!.content).toMatch(/- perception: looks at images \(sees images\)/);
    const events = await logOf(mesh, "see1");
    const routed = events.find((e) => e.type === "routed");
    expect(routed).toMatchObject({ specialist: "perception" });
    expect(routed?.type === "routed" ? routed.reason : "").toMatch(/'pragmatist' cannot see images, so 'perception' takes it/);
    expect(events.find((e) => e.type === "user_message")).toMatchObject({ media: [{ kind: "image", mime: "image/png", size: 1000 }] });
  });

  it("a 10 MB image goes by LYRA_MEDIA reference: no NATS message carries it, and the vision model gets the exact bytes", async () => {
    const bytes = png(10 * 1024 * 1024);
    const m = await putMedia(mesh, bytes);
    expect(m.data).toBeUndefined();
    expect(m.object).toMatch(/^image\//);
    largest = { size: 0, subject: "" };
    const before = visionChats(ollama).length;
    const reply = await ask("see2", "and this one?", [m]);
    expect(reply.text).toContain(`I see 1 image(s) of ${bytes.length} bytes`);
    const chat = visionChats(ollama).slice(before).at(-1)!;
    expect(lastUser(chat)!.images![0] === bytes.toString("base64")).toBe(true);
    await mesh.nc.flush();
    // The inbox message, the role request and the reply hold a reference; Object Store chunks are 128 KiB.
    // (Under the inline limit, so the check is not only the server's 1 MB max_payload.)
    expect(largest.size, largest.subject).toBeLessThan(256 * 1024);
  });

  it("a specialist that cannot see gets a note with the reference, never the bytes", async () => {
    const m = await putMedia(mesh, png(5000));
    const before = ollama.chats().length;
    // A role call straight to the pragmatist, without describe_image answering: a fresh reference it then asks about.
    const r = await roles.call(
      "pragmatist",
      { messages: [{ role: "user", content: "what do you make of it?", media: [m] }] },
      { timeoutMs: 20_000 },
    );
    const first = ollama
      .chats()
      .slice(before)
      .find((b) => b.model === "qwen3:4b")!;
    expect(lastUser(first)!.images).toBeUndefined();
    expect(lastUser(first)!.content).toMatch(
      new RegExp(
        String.raw`\[The user attached an image \(image\/png, 5000 bytes, reference image\/[0-9a-f]{64}\)\. ` +
          String.raw`You cannot see images: if a describe_image tool is offered, call it`,
      ),
    );
    // The inline item was stored so it has a reference; the pragmatist asked describe_image, which asked the vision role.
    expect(r.text).toMatch(/^Pragmatist relays: I see 1 image\(s\) of 5000 bytes; asked: What is it\?/);
  });
});

type Outcome = { isError: boolean; text: string; structured?: Record<string, unknown> };
async function describeImage(args: unknown, server = mcp): Promise<Outcome> {
  try {
    const r = (await server.callTool({ name: "describe_image", arguments: args as Record<string, unknown> })) as {
      isError?: boolean;
      content: { type: string; text?: string }[];
      structuredContent?: Record<string, unknown>;
    };
    return { isError: r.isError === true, text: r.content.map((b) => b.text ?? "").join("\n"), structured: r.structuredContent };
  } catch (err) {
    return { isError: true, text: `rpc error: ${(err as Error).message}` };
  }
}

describe("describe_image", () => {
  it("asks the vision role about a stored image by reference (or its lyra-media: link); the model gets the exact bytes", async () => {
    const bytes = png(300_000);
    const m = await putMedia(mesh, bytes);
    const before = visionChats(ollama).length;
    const r = await describeImage({ image: m.object, question: "Is there a cat?" });
    expect(r.isError, r.text).toBe(false);
    expect(r.text).toBe("I see 1 image(s) of 300000 bytes; asked: Is there a cat?");
    expect(r.structured).toMatchObject({ role: "perception", model: "llava:13b", host: "local", image: m.object });
    expect(lastUser(visionChats(ollama).slice(before).at(-1)!)!.images).toEqual([bytes.toString("base64")]);
    const d = await describeImage({ image: `lyra-media:${m.object}` });
    expect(d.text).toMatch(/asked: Describe this image in detail/);
  });

  const gone = `image/${"ab".repeat(32)}`;
  const bad: [string, unknown, RegExp][] = [
    ["no image", {}, /image/],
    ["a numeric image", { image: 5 }, /image/],
    ["a null image", { image: null }, /image/],
    ["an array of images", { image: ["image/x"] }, /image/],
    ["an empty image", { image: "" }, /not an image reference/],
    ["a path", { image: "../../etc/passwd" }, /not an image reference/],
    ["a URL", { image: "https://example.org/cat.png" }, /not an image reference/],
    ["a short digest", { image: `image/${"a".repeat(63)}` }, /not an image reference/],
    ["a long digest", { image: `image/${"a".repeat(65)}` }, /not an image reference/],
    ["upper-case hex", { image: `image/${"A".repeat(64)}` }, /not an image reference/],
    ["an audio reference", { image: `audio/${"a".repeat(64)}` }, /not an image reference/],
    ["a wrong URI scheme", { image: `nats://image/${"a".repeat(64)}` }, /not an image reference/],
    ["a huge string", { image: "image/".padEnd(5000, "a") }, /image/],
    ["an empty question", { image: gone, question: "" }, /question is empty/],
    ["a blank question", { image: gone, question: "  " }, /question is empty/],
    ["a question over 2000 characters", { image: gone, question: "q".repeat(2001) }, /over 2000 characters/],
    ["a numeric question", { image: gone, question: 42 }, /question/],
    ["an unknown argument", { image: gone, detail: "high" }, /detail/],
    ["choosing the role", { image: gone, role: "voice" }, /role/],
    [
      "an image not in LYRA_MEDIA",
      { image: gone },
      /is not in LYRA_MEDIA \(it expired, or was never stored\); ask the user to send it again/,
    ],
  ];
  it.each(bad)("refuses %s with a clear error", async (_what, args, reason) => {
    const r = await describeImage(args);
    expect(r.isError, r.text).toBe(true);
    expect(r.text).toMatch(reason);
  });

  it("a vision role no agent serves is a clear error, and the server keeps serving", async () => {
    const blind = await connectSdkClient(createMcpClient(mesh, { tenant: "test", user: "pragmatist" }), "blind");
    const m = await putMedia(mesh, png(2000), { placement: "store" });
    const r = await describeImage({ image: m.object }, blind);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/describe_image is unavailable: the vision role 'nobody' cannot answer now .*roles\.nobody/);
    await blind.close();
    expect((await describeImage({ image: m.object })).isError).toBe(false);
  });
});
