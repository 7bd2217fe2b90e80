/**
 * Synadia's Python Agent Protocol SDK (synadia-ai-agents, in the project venv) against a Lyra
 * mesh on a real nats-server: it discovers every role as an agent and prompts one. The SDK is the
 * protocol's other implementation; where it disagrees with Lyra, Lyra is what gets fixed.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { venvBin } from "../harness/real.ts";
import { FAILING_ROLE, OWNER, ROLES, startScriptedMesh, type ScriptedMesh } from "./helpers/scripted-mesh.ts";

const PROBE = fileURLToPath(new URL("./helpers/synadia_probe.py", import.meta.url));

interface ProbeResult {
  agents: {
    instance_id: string;
    agent: string;
    owner: string;
    session_name: string;
    protocol_version: string;
    prompt_subject: string;
    endpoints: string[];
  }[];
  chunks: { type: string; text?: string; status?: string }[];
  status: Record<string, unknown>;
  pings: boolean[];
  sdk_warnings_before_error: string[];
  error: { class: string; message: string } | null;
}

let mesh: ScriptedMesh;
beforeAll(async () => {
  venvBin("python");
  mesh = await startScriptedMesh();
});
afterAll(async () => {
  await mesh?.[Symbol.asyncDispose]();
});

/** Runs the probe with the venv's Python; rejects with its output when it fails. */
function probe(role: string, prompt: string): Promise<ProbeResult> {
  const proc = spawn(venvBin("python"), [PROBE, mesh.server.url, OWNER, role, prompt, FAILING_ROLE], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    proc.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`synadia_probe.py exited ${code}:\n${err}\n${out}`));
      try {
        resolve(JSON.parse(out) as ProbeResult);
      } catch (e) {
        reject(new Error(`synadia_probe.py printed no JSON (${String(e)}):\n${out}\n${err}`));
      }
    });
  });
}

describe("Synadia's Python SDK on a Lyra mesh", () => {
  it("discovers every role as an agent and prompts one: ack, the answer, its status", async () => {
    const r = await probe("voice", "hello from python");
    expect(r.agents.map((a) => a.session_name).sort()).toEqual([...ROLES].sort());
    for (const a of r.agents) {
      expect(a).toMatchObject({
        agent: "lyra",
        owner: OWNER,
        protocol_version: "0.3",
        prompt_subject: `agents.prompt.lyra.${OWNER}.${a.session_name}`,
      });
      expect(a.endpoints).toEqual(expect.arrayContaining(["prompt", "status"]));
    }
    expect(r.chunks[0]).toEqual({ type: "status", status: "ack" });
    const text = r.chunks
      .filter((c) => c.type === "response")
      .map((c) => c.text)
      .join("");
    expect(text).toBe("Lyra says: hello from python");
    expect(r.status).toMatchObject({ agent: "lyra", owner: OWNER });
    expect(r.pings).toEqual(r.agents.map(() => true));
    // Nothing Lyra sent made the SDK complain (malformed $SRV.INFO, heartbeat or chunk).
    expect(r.sdk_warnings_before_error).toEqual([]);
    // A failed answer is an error frame the SDK raises at once (§9), not a stream left to stall.
    expect(r.error?.class).toBe("ProtocolError");
    expect(r.error?.message).toMatch(/^service error 5\d\d: /);
  });
});
