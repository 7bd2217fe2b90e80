/**
 * The NATS Agent Protocol 0.3 conformance suite (synadia-ai/synadia-agent-sdk-docs, core-protocol.md),
 * section by section. Each test names the section it checks. It judges Lyra only through the
 * spec caller in spec-client.ts, over a real nats-server. Orderings and counts are asserted,
 * never durations: the inactivity timeouts are generous upper bounds, as §6.6 defines them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  discover,
  gather,
  instanceName,
  parseSize,
  promptEndpoint,
  promptStream,
  responseText,
  shape,
  type InfoRecord,
  type StreamItem,
} from "./spec-client.ts";
import { OWNER, ROLES, SLOW_ANSWER, startTarget, type Target, type TargetKind } from "./target.ts";
import { defineErrorTests } from "./suite-errors.ts";

/** Generous per-stream inactivity timeout for answers that should be quick (§6.6). */
export const QUICK_MS = 20_000;

export interface Ctx {
  t: Target;
  records: InfoRecord[];
  /** The prompt subject of a role, as discovery reports it (§4.3: never constructed). */
  prompt(role: string): string;
  record(role: string): InfoRecord;
}

export function conformanceSuite(kind: TargetKind): void {
  const ctx = {} as Ctx;
  beforeAll(async () => {
    ctx.t = await startTarget(kind);
    ctx.records = await discover(ctx.t.nc);
    ctx.record = (role) => {
      const r = ctx.records.find((x) => instanceName(x) === role);
      if (!r) throw new Error(`no discovery record with instance name '${role}'`);
      return r;
    };
    ctx.prompt = (role) => promptEndpoint(ctx.record(role)).subject;
  }, 90_000);
  afterAll(async () => {
    await ctx.t?.[Symbol.asyncDispose]();
  }, 60_000);

  describe(`${kind}: §3-§4 registration and discovery`, () => {
    it("§3.1, §3.2, §4.1: $SRV.INFO.agents has a record per role: name agents, semver, description, agent/owner/protocol_version", () => {
      expect(ctx.records.map(instanceName).sort()).toEqual([...ROLES]);
      for (const r of ctx.records) {
        expect(r.name).toBe("agents");
        expect(r.version).toMatch(/^\d+\.\d+\.\d+/);
        expect(r.description.length).toBeGreaterThan(0);
        expect(r.metadata).toMatchObject({ agent: "lyra", owner: OWNER, protocol_version: "0.3" });
        expect(r.metadata.protocol_version!.split(".").slice(0, 2).join(".")).toBe("0.3"); // §11.1
      }
    });

    it("§2, §2.1, §3.3, §12: a prompt endpoint on agents.prompt.<agent>.<owner>.<name>, queue group agents, limits", () => {
      for (const role of ROLES) {
        const e = promptEndpoint(ctx.record(role));
        const [root, verb, agent, owner, name] = e.subject.split(".");
        expect([root, verb, agent, owner, name]).toEqual([
          "agents",
          "prompt",
          ctx.record(role).metadata.agent,
          ctx.record(role).metadata.owner,
          role,
        ]);
        expect(e.queue_group).toBe("agents");
        expect(e.metadata?.max_payload).toMatch(/^\d+(B|KB|MB|GB)$/);
        // Truthful per role (§2.1): only the vision role takes attachments.
        expect(e.metadata?.attachments_ok).toBe(role === "eye" ? "true" : "false");
      }
    });

    it("§8.7, §12: a status endpoint on agents.status.<agent>.<owner>.<name>, queue group agents", () => {
      for (const role of ROLES) {
        const e = ctx.record(role).endpoints.find((x) => x.name === "status");
        expect(e).toMatchObject({ subject: `agents.status.lyra.${OWNER}.${role}`, queue_group: "agents" });
      }
    });

    it("§4.2: $SRV.INFO.agents.<instance_id> answers with that instance's record alone", async () => {
      const want = ctx.record("voice");
      const msgs = await gather(ctx.t.nc, `$SRV.INFO.agents.${want.id}`, { quietMs: 300 });
      expect(msgs).toHaveLength(1);
      expect(msgs[0]!.json<InfoRecord>()).toMatchObject({ id: want.id, name: "agents", metadata: want.metadata });
    });

    it("§4.1, §8.4: $SRV.PING.agents: every instance answers once, ids matching the info records", async () => {
      const pings = (await gather(ctx.t.nc, "$SRV.PING.agents")).map((m) =>
        m.json<{ name: string; id: string; metadata: Record<string, string> }>(),
      );
      expect(pings.map((p) => p.id).sort()).toEqual(ctx.records.map((r) => r.id).sort());
      for (const p of pings) expect(p).toMatchObject({ name: "agents", metadata: { agent: "lyra", protocol_version: "0.3" } });
    });

    it("§3 (micro stats): $SRV.STATS.agents.<id> counts the prompts an instance served", async () => {
      const r = ctx.record("voice");
      await promptStream(ctx.t.nc, ctx.prompt("voice"), "count me", { inactivityMs: QUICK_MS });
      const stats = (await gather(ctx.t.nc, `$SRV.STATS.agents.${r.id}`, { quietMs: 300 }))[0]!.json<{
        endpoints: { name: string; num_requests: number }[];
      }>();
      expect(stats.endpoints.find((e) => e.name === "prompt")!.num_requests).toBeGreaterThanOrEqual(1);
    });
  });

  describe(`${kind}: §8 liveness`, () => {
    it("§8.1-§8.3, §12: heartbeats on agents.hb.lyra.<owner>.<name> with agent, owner, instance_id, ts, interval_s", () => {
      for (const role of ROLES) {
        const r = ctx.record(role);
        const beats = ctx.t.heartbeats.filter((m) => m.subject === `agents.hb.lyra.${OWNER}.${role}`);
        expect(beats.length, role).toBeGreaterThanOrEqual(1);
        const b = beats[0]!.json<Record<string, unknown>>();
        expect(b).toMatchObject({ agent: r.metadata.agent, owner: r.metadata.owner, instance_id: r.id });
        expect(new Date(b.ts as string).toISOString()).toBe(b.ts); // UTC ISO 8601
        expect(b.interval_s).toBeGreaterThan(0);
        // `session` is present iff the metadata has it (§8.3).
        expect(b.session).toBe(r.metadata.session);
        expect(beats[0]!.subject.split(".")[4]).toBe(instanceName(r)); // the 5th token is the name
      }
    });

    it("§8.7: the status endpoint answers with a fresh heartbeat-shaped payload and ignores the request body", async () => {
      for (const body of ["", "anything at all"]) {
        const r = ctx.record("slow");
        const status = r.endpoints.find((e) => e.name === "status")!.subject;
        const reply = await ctx.t.nc.request(status, body, { timeout: QUICK_MS });
        expect(reply.headers?.get("Nats-Service-Error-Code")).toBeUndefined();
        const b = reply.json<Record<string, unknown>>();
        expect(b).toMatchObject({ agent: "lyra", owner: OWNER, session: r.metadata.session, instance_id: r.id });
        expect(new Date(b.ts as string).toISOString()).toBe(b.ts);
        expect(b.interval_s).toBeGreaterThan(0);
      }
    });
  });

  describe(`${kind}: §5-§6 requests and response streams`, () => {
    it("§5.1, §5.3, §6.4: a plain-text prompt gets exactly one ack, as the first message", async () => {
      const s = await promptStream(ctx.t.nc, ctx.prompt("voice"), "hello there", { inactivityMs: QUICK_MS });
      expect(s.stalled).toBe(false);
      expect(shape(s.items)[0]).toBe("status:ack");
      expect(shape(s.items).filter((x) => x === "status:ack")).toHaveLength(1);
      expect(responseText(s.items)).toBe("Lyra says: hello there");
    });

    it("§5.1, §6.2, §6.3, §6.5: a JSON prompt: {type,data} chunks, text in response chunks, the empty terminator, no more", async () => {
      const s = await promptStream(ctx.t.nc, ctx.prompt("voice"), ' \n\t{"prompt":"json please"}', { inactivityMs: QUICK_MS });
      expect(s.stalled).toBe(false);
      expect(s.items.at(-1)).toEqual({ kind: "end" });
      expect(s.msgs.at(-1)!.data.length).toBe(0);
      expect(s.msgs.at(-1)!.headers).toBeUndefined();
      expect(s.items.filter((i) => i.kind === "end")).toHaveLength(1);
      expect(s.items.slice(0, -1).every((i) => i.kind === "chunk")).toBe(true);
      expect(responseText(s.items)).toBe("Lyra says: json please");
      const count = s.msgs.length;
      await ctx.t.nc.flush();
      await new Promise((r) => setTimeout(r, 300));
      expect(s.msgs).toHaveLength(count); // §6.5: nothing after the terminator
    });

    it("§5.6: unknown top-level fields and unknown fields in attachments are tolerated", async () => {
      const s = await promptStream(
        ctx.t.nc,
        ctx.prompt("voice"),
        JSON.stringify({ prompt: "tolerant", x_future: { a: [1, 2] }, trace: "t" }),
        { inactivityMs: QUICK_MS },
      );
      expect(shape(s.items)).toEqual(["status:ack", "response", "end"]);
    });

    it("§6.4, §6.6: a slow answer keeps the stream alive with status keep-alives; no stall under a short inactivity timeout", async () => {
      // 24 words 150 ms apart: silent for seconds without keep-alives, so a 3 s inactivity timeout
      // would expire; Lyra's keep-alives (a fraction of a second apart) keep resetting it.
      const s = await promptStream(ctx.t.nc, ctx.prompt("slow"), "take your time", { inactivityMs: 3000 });
      expect(s.stalled).toBe(false);
      const sh = shape(s.items);
      expect(sh[0]).toBe("status:ack");
      expect(sh.slice(-2)).toEqual(["response", "end"]);
      const keepAlives = sh.slice(1, -2);
      expect(keepAlives.length).toBeGreaterThanOrEqual(2);
      for (const k of keepAlives) expect(k).toMatch(/^status:/);
      expect(responseText(s.items)).toBe(SLOW_ANSWER);
    }, 60_000);

    it("§6.2, §6.6: Lyra's extensions (JSON `stream: true`) add only chunk types a spec caller ignores; the text is the same", async () => {
      const s = await promptStream(ctx.t.nc, ctx.prompt("voice"), JSON.stringify({ prompt: "stream it", stream: true }), {
        inactivityMs: QUICK_MS,
      });
      const sh = shape(s.items);
      expect(sh[0]).toBe("status:ack");
      expect(sh.at(-1)).toBe("end");
      expect(sh).toContain("final");
      expect(responseText(s.items)).toBe("Lyra says: stream it");
    });

    it("§5.2, §2.1: attachments are accepted where attachments_ok is true: images reach the vision model, text the prompt", async () => {
      const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]).toString("base64");
      const note = Buffer.from("the cat is orange").toString("base64");
      const before = ctx.t.ollama.requests.length;
      const body = JSON.stringify({
        prompt: "what is this?",
        attachments: [
          { filename: "cat.png", content: png, x_unknown: true },
          { filename: "note.txt", content: note },
        ],
      });
      const s = await promptStream(ctx.t.nc, ctx.prompt("eye"), body, { inactivityMs: QUICK_MS });
      expect(shape(s.items)[0]).toBe("status:ack");
      expect(responseText(s.items)).toBe("I see 1 image(s)");
      const chat = ctx.t.ollama.requests.slice(before).find((r) => r.path === "/api/chat");
      const user = (chat!.body as { messages: { role: string; content: string; images?: string[] }[] }).messages.findLast(
        (m) => m.role === "user",
      )!;
      expect(user.images).toEqual([png]);
      expect(user.content).toContain("what is this?");
      expect(user.content).toContain("the cat is orange");
    });

    it("§2.1, §5.4: max_payload is the server's limit (a caller's local check is exact); a request within it is served", async () => {
      const limit = parseSize(promptEndpoint(ctx.record("voice")).metadata!.max_payload!);
      expect(limit).toBe(ctx.t.serverMaxPayload);
      // The vision role's model answers briefly, so only the request is large.
      const big = "x".repeat(limit - 1024);
      const s = await promptStream(ctx.t.nc, ctx.prompt("eye"), big, { inactivityMs: QUICK_MS });
      expect(shape(s.items)).toEqual(["status:ack", "response", "end"]);
      // Over the limit, the caller must fail locally (§5.4): NATS refuses to publish it at all.
      expect(() => ctx.t.nc.publish(ctx.prompt("voice"), "x".repeat(limit + 1))).toThrow(/payload/i);
    });
  });

  defineErrorTests(kind, ctx);
}

export type { StreamItem };
